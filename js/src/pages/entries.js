// /entries: the survivor's escrow entries, from their own encrypted copies, and a way to
// withdraw one. An entry is shown as Sealed or Withdrawn and as nothing else, whatever
// state a client might report: this list must never be able to say "matched" (a person
// who names themselves must learn nothing).

import {
  listCounselors, listEntries, loadDraft, withdrawEntry,
} from '../client/index.js';
import {
  byId, draftContent, draftKey, el, formatTime, progressFor, showError, showStatus, startPage,
} from './ui.js';

const KIND_LABELS = {
  email: 'Email address',
  phone: 'Phone number',
  profile: 'Profile',
  orgid: 'Organization id',
};

function isWithdrawn(entry) {
  return entry.state === 'withdrawn';
}

function identifierItem(identifier) {
  const label = KIND_LABELS[identifier.kind] || 'Identifier';
  const text = String(identifier.text || '');
  const canonical = String(identifier.canonical || '');
  const shown = text || canonical;
  return el('li', {}, `${label}: ${shown}`,
    canonical && canonical !== shown ? el('span', { className: 'meta' }, ` (matched as ${canonical})`) : null);
}

startPage(async () => {
  const progress = progressFor('entries-progress');
  const list = byId('entries-list');
  let counselors = new Map();

  try {
    byId('draft-notice').hidden = !draftContent(await loadDraft(draftKey('entry', null)));
  } catch {
    // A draft that cannot be read is not worth an alarm on the list page.
  }

  async function load() {
    progress.start('Opening your entries…');
    let entries;
    try {
      entries = await listEntries();
      try {
        counselors = new Map((await listCounselors()).map((c) => [c.id, c]));
      } catch {
        counselors = new Map(); // names are a nicety; the ids are shown instead
      }
    } finally {
      progress.finish();
    }
    const sorted = [...entries].sort((a, b) => Number(b.createdAtMs) - Number(a.createdAtMs));
    list.replaceChildren(...sorted.map(entryCard));
    byId('entries-empty').hidden = sorted.length > 0;
  }

  function entryCard(entry) {
    const withdrawn = isWithdrawn(entry);
    const counselor = counselors.get(entry.counselorId);
    const actions = el('div', { className: 'actions' });
    const card = el('li', { className: 'card' },
      el('h3', {}, `Entry of ${formatTime(entry.createdAtMs)}`),
      el('p', {}, 'State: ', el('span', {
        className: withdrawn ? 'badge badge-withdrawn' : 'badge',
      }, withdrawn ? 'Withdrawn' : 'Sealed')),
      el('p', {}, 'Identifiers:'),
      el('ul', { className: 'identifiers' }, ...(entry.identifiers || []).map(identifierItem)),
      el('p', {}, `Counselor: ${counselor ? counselor.displayName : entry.counselorId}`),
      el('p', {}, `How to contact you: ${entry.contact || ''}`),
      entry.message ? el('p', {}, `Message: ${entry.message}`) : null,
      withdrawn ? null : actions);
    if (!withdrawn) showWithdrawButton(entry, actions);
    return card;
  }

  function showWithdrawButton(entry, actions) {
    const button = el('button', { type: 'button', className: 'button button-secondary' },
      'Withdraw this entry');
    button.addEventListener('click', () => askToWithdraw(entry, actions));
    actions.replaceChildren(button);
  }

  function askToWithdraw(entry, actions) {
    const question = el('p', { tabindex: '-1' },
      'Withdraw this entry? It will no longer take part in a match. This cannot be undone, '
      + 'but you can make a new entry later.');
    const yes = el('button', { type: 'button', className: 'button button-danger' },
      'Yes, withdraw it');
    const no = el('button', { type: 'button', className: 'button button-secondary' }, 'Keep it');
    no.addEventListener('click', () => {
      showWithdrawButton(entry, actions);
      actions.querySelector('button').focus();
    });
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      no.disabled = true;
      try {
        await withdrawEntry(entry.entryId);
        await load();
        showStatus('The entry was withdrawn.');
      } catch (error) {
        yes.disabled = false;
        no.disabled = false;
        showError(error);
      }
    });
    actions.replaceChildren(question, yes, no);
    question.focus();
  }

  await load();
}, { needsUser: true });
