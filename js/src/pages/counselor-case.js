// /counselor/case?match=<hex>: one case. Its packages are opened here with the unlocked
// key; notes are sealed here to the counselor's own key and opened here; a formal report
// is sealed here to the chosen organization's intake key.
import {
  counselorAddNote,
  counselorNotes,
  counselorOpenCase,
  counselorOrganizations,
  counselorSendReport,
  counselorSetState,
} from '../client/index.js';
import { byId, clearMessages, el, fieldError, formatTime, setBusy, showError, showStatus } from './ui.js';
import { STATE_LABELS, startCounselorPage } from './counselorkit.js';

const ORDER = ['new', 'contacted', 'closed'];

function packageCard(p, n) {
  if (p.error) return el('article', { className: 'card' }, el('h3', {}, `Package ${n}`), el('p', {}, p.error));
  return el('article', { className: 'card', 'data-package': p.slotId },
    el('h3', {}, `Package ${n}`),
    el('p', { className: 'meta' }, `received ${formatTime(p.createdAtMs)}`),
    el('h4', {}, 'How to reach the survivor'),
    el('p', { 'data-contact': '' }, p.contact),
    el('h4', {}, 'The person they named'),
    el('ul', { className: 'identifiers' },
      ...p.identifiers.map((i) => el('li', {}, `${i.kind}: ${i.entered}`,
        i.canonical && i.canonical !== i.entered ? el('span', { className: 'meta' }, ` (matched as ${i.canonical})`) : null))),
    p.message ? el('h4', {}, 'Their message') : null,
    p.message ? el('p', { 'data-message': '' }, p.message) : null,
  );
}

startCounselorPage(async () => {
  const matchId = new URLSearchParams(window.location.search).get('match') || '';
  const found = /^[0-9a-f]{32}$/.test(matchId) ? await counselorOpenCase(matchId) : null;
  if (!found) {
    byId('case-title').textContent = 'No such case';
    for (const section of document.querySelectorAll('main section')) section.hidden = true;
    showError('You hold no package of this match. Go back to your inbox.', { focus: false });
    return;
  }
  byId('case-title').textContent = `Match ${matchId.slice(0, 8)}`;

  const showState = (c) => {
    const badge = byId('case-state');
    badge.textContent = STATE_LABELS[c.state];
    badge.dataset.state = c.state;
    byId('case-updated').textContent = `updated ${formatTime(c.updatedAtMs)}`;
    for (const button of document.querySelectorAll('[data-state]')) {
      if (button.id.startsWith('state-')) button.disabled = ORDER.indexOf(button.dataset.state) <= ORDER.indexOf(c.state);
    }
  };
  showState(found);

  byId('packages').append(...found.packages.map((p, i) => packageCard(p, i + 1)));

  byId('others-none').hidden = found.otherCounselors.length > 0;
  byId('others').append(...found.otherCounselors.map((o) => el('li', {}, `${o.displayName} (${o.id})`)));

  for (const button of [byId('state-contacted'), byId('state-closed')]) {
    button.addEventListener('click', async () => {
      clearMessages();
      button.disabled = true;
      try {
        showState(await counselorSetState(matchId, button.dataset.state));
        showStatus(`The case is now ${STATE_LABELS[button.dataset.state].toLowerCase()}.`);
      } catch (error) {
        button.disabled = false;
        showError(error);
      }
    });
  }

  const notesList = byId('notes');
  const showNotes = async () => {
    const notes = await counselorNotes(matchId);
    notesList.replaceChildren(...notes.map((n) => el('li', { 'data-note': n.id },
      el('p', { className: 'meta' }, formatTime(n.createdAtMs)), el('p', { className: 'note-text' }, n.text))));
  };
  await showNotes();

  const noteForm = byId('note-form');
  const noteText = byId('note-text');
  noteForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const empty = noteText.value.trim() === '' ? 'Write the note first.' : '';
    fieldError(noteText, byId('note-text-error'), empty);
    if (empty) {
      noteText.focus();
      return;
    }
    setBusy(noteForm, true);
    try {
      await counselorAddNote(matchId, noteText.value);
      noteText.value = '';
      await showNotes();
      showStatus('Note saved, sealed to your key.');
    } catch (error) {
      showError(error);
    } finally {
      setBusy(noteForm, false);
    }
  });

  const select = byId('report-organization');
  const reportForm = byId('report-form');
  const reportText = byId('report-text');
  const organizations = await counselorOrganizations();
  select.replaceChildren(el('option', { value: '' }, 'Choose an organization'),
    ...organizations.map((o) => el('option', { value: o.id }, o.name)));
  reportForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const noOrganization = select.value === '' ? 'Choose the organization to send the report to.' : '';
    const empty = reportText.value.trim() === '' ? 'Write the report first.' : '';
    fieldError(select, byId('report-organization-error'), noOrganization);
    fieldError(reportText, byId('report-text-error'), empty);
    if (noOrganization || empty) {
      (noOrganization ? select : reportText).focus();
      return;
    }
    setBusy(reportForm, true);
    try {
      await counselorSendReport(matchId, select.value, reportText.value);
      const name = select.options[select.selectedIndex].textContent;
      reportText.value = '';
      select.value = '';
      showStatus(`Report sent to ${name}, sealed to its intake key.`);
    } catch (error) {
      showError(error);
    } finally {
      setBusy(reportForm, false);
    }
  });
});
