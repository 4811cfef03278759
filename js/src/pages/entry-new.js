// /entries/new: name a person by one or more identifiers, choose a counselor (each shown
// with the fingerprint of their key), say how to be contacted, optionally write a
// message; then the SDK checks every identifier, asks the key servers (progress shown),
// seals the entry and uploads it.
//
// Each identifier shows its canonical form as it is typed (canonicalPreview, run in this
// browser: nothing is sent), or the reason it cannot be used. The form is kept as an
// encrypted local draft while the survivor works.

import {
  addEntry, canonicalPreview, clearDraft, listCounselors, loadDraft,
} from '../client/index.js';
import {
  byId, clearMessages, debounce, draftContent, draftKey, el, fieldError, keepDraft,
  messageOf, progressFor, setBusy, showError, showStatus, startPage,
} from './ui.js';

const MAX_IDENTIFIERS = 64; // the key servers' batch limit (docs/client-entries.md)
const PREVIEW_MS = 500;
const AUTOSAVE_MS = 800;

const KINDS = {
  email: {
    label: 'Email address',
    hint: 'For example name@example.com.',
    inputmode: 'email',
  },
  phone: {
    label: 'Phone number',
    hint: 'As you know it, for example (415) 555-0134 or +1 415 555 0134.',
    inputmode: 'tel',
  },
  profile: {
    label: 'Profile link',
    hint: 'The address of the profile page, for example https://www.linkedin.com/in/jane-doe. '
      + 'A short link, or an @name without the site, cannot be used.',
    inputmode: 'url',
  },
  orgid: {
    label: "Organization's person id",
    hint: "The organization's web domain and the id it gives the person, written "
      + 'domain:id, for example example.org:E-1042.',
    inputmode: 'text',
  },
};

startPage(async () => {
  const form = byId('entry-form');
  const rowsBox = byId('identifier-rows');
  const template = byId('identifier-row-template');
  const addButton = byId('add-identifier');
  const contact = byId('contact');
  const message = byId('message');
  const draftState = byId('draft-state');
  const progress = progressFor('entry-progress');
  const key = draftKey('entry', null);
  let nextRow = 0;

  const rows = () => [...rowsBox.querySelectorAll('[data-identifier-row]')];
  const part = (row, name) => row.querySelector(`[data-field="${name}"]`);

  // -- Identifier rows ---------------------------------------------------------------
  function updateKind(row) {
    const kind = KINDS[part(row, 'kind').value] || KINDS.email;
    row.querySelector('[data-text-label]').textContent = kind.label;
    row.querySelector('[data-hint]').textContent = kind.hint;
    part(row, 'text').setAttribute('inputmode', kind.inputmode);
    row.querySelector('[data-region-field]').hidden = part(row, 'kind').value !== 'phone';
  }

  /** Check one row: its identifier {kind, text, region}, null when empty, false when it
   *  cannot be used (the reason is shown under it). */
  function check(row) {
    const kind = part(row, 'kind').value;
    const input = part(row, 'text');
    const text = input.value;
    const preview = row.querySelector('[data-preview]');
    const error = row.querySelector('[data-error]');
    const region = kind === 'phone' ? part(row, 'region').value.trim().toUpperCase() : '';
    if (text.trim() === '') {
      preview.textContent = '';
      fieldError(input, error, '');
      return null;
    }
    try {
      const { canonical } = canonicalPreview(kind, text, region || null);
      preview.textContent = `Will be matched as: ${canonical}`;
      fieldError(input, error, '');
      return { kind, text, region: region || null };
    } catch (problem) {
      preview.textContent = '';
      fieldError(input, error, messageOf(problem));
      return false;
    }
  }

  function updateButtons() {
    const all = rows();
    for (const row of all) row.querySelector('[data-remove]').hidden = all.length === 1;
    addButton.disabled = all.length >= MAX_IDENTIFIERS;
  }

  function addRow(values = {}) {
    const n = nextRow;
    nextRow += 1;
    const fragment = template.content.cloneNode(true);
    const row = fragment.querySelector('[data-identifier-row]');
    for (const node of row.querySelectorAll('[id], [for], [aria-describedby]')) {
      for (const name of ['id', 'for', 'aria-describedby']) {
        const value = node.getAttribute(name);
        if (value) node.setAttribute(name, value.replace(/__N__/g, String(n)));
      }
    }
    if (values.kind && KINDS[values.kind]) part(row, 'kind').value = values.kind;
    part(row, 'text').value = typeof values.text === 'string' ? values.text : '';
    part(row, 'region').value = typeof values.region === 'string' ? values.region : '';
    updateKind(row);

    const later = debounce(() => check(row), PREVIEW_MS);
    part(row, 'kind').addEventListener('change', () => {
      updateKind(row);
      check(row);
    });
    part(row, 'text').addEventListener('input', later);
    part(row, 'text').addEventListener('blur', () => {
      later.cancel();
      check(row);
    });
    part(row, 'region').addEventListener('input', later);
    row.querySelector('[data-remove]').addEventListener('click', () => {
      const index = rows().indexOf(row);
      row.remove();
      updateButtons();
      autosave();
      const remaining = rows();
      const target = remaining[Math.max(0, index - 1)];
      if (target) part(target, 'kind').focus();
      else addButton.focus();
    });
    rowsBox.append(row);
    updateButtons();
    if (part(row, 'text').value) check(row);
    return row;
  }

  addButton.addEventListener('click', () => {
    const row = addRow();
    part(row, 'kind').focus();
  });

  // -- Counselors --------------------------------------------------------------------
  progress.start('Loading the counselors…');
  let counselors;
  try {
    counselors = (await listCounselors()).filter((c) => c.vouched !== false);
  } finally {
    progress.finish();
  }
  const choices = counselors.map((counselor, i) => {
    const id = `counselor-${i}`;
    const radio = el('input', { type: 'radio', name: 'counselor', id, value: counselor.id });
    radio.addEventListener('change', () => {
      fieldError(null, byId('counselor-error'), '');
    });
    return el('div', { className: 'choice' }, radio,
      el('label', { for: id }, counselor.displayName,
        el('span', { className: 'fingerprint' }, 'Key fingerprint: ',
          el('code', {}, String(counselor.fingerprint || '')))));
  });
  byId('counselor-list').replaceChildren(...choices);
  byId('counselor-empty').hidden = counselors.length > 0;
  if (counselors.length === 1) form.querySelector('input[name="counselor"]').checked = true;

  // -- The draft ---------------------------------------------------------------------
  function readForm() {
    const chosen = form.querySelector('input[name="counselor"]:checked');
    return {
      identifiers: rows().map((row) => ({
        kind: part(row, 'kind').value,
        text: part(row, 'text').value,
        region: part(row, 'region').value,
      })),
      counselorId: chosen ? chosen.value : null,
      contact: contact.value,
      message: message.value,
    };
  }

  function isBlank(content) {
    return content.identifiers.every((i) => !i.text.trim()) && !content.contact.trim()
      && !content.message.trim();
  }

  function fillForm(content) {
    rowsBox.replaceChildren();
    const identifiers = Array.isArray(content.identifiers) && content.identifiers.length
      ? content.identifiers.slice(0, MAX_IDENTIFIERS) : [{}];
    for (const identifier of identifiers) addRow(identifier || {});
    for (const radio of form.querySelectorAll('input[name="counselor"]')) {
      radio.checked = radio.value === content.counselorId;
    }
    contact.value = typeof content.contact === 'string' ? content.contact : '';
    message.value = typeof content.message === 'string' ? content.message : '';
  }

  const restored = byId('draft-restored');
  let draft = null;
  try {
    draft = draftContent(await loadDraft(key));
  } catch (error) {
    showError(`Your unfinished entry could not be opened: ${messageOf(error)}`, { focus: false });
  }
  if (draft && draft.content && Array.isArray(draft.content.identifiers)) {
    fillForm(draft.content);
    restored.hidden = false;
  } else {
    addRow();
  }

  const autosave = keepDraft({
    form, key, readForm, isUnchanged: isBlank, state: draftState, waitMs: AUTOSAVE_MS,
    events: ['input', 'change'],
  });

  byId('discard-draft').addEventListener('click', async () => {
    autosave.cancel();
    fillForm({});
    try {
      await clearDraft(key);
    } catch {
      // A stale draft is offered again next time and can be discarded then.
    }
    restored.hidden = true;
    draftState.textContent = '';
    showStatus('The unfinished entry was discarded.');
    part(rows()[0], 'kind').focus();
  });

  // -- Seal --------------------------------------------------------------------------
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    let firstInvalid = null;
    const identifiers = [];
    for (const row of rows()) {
      const identifier = check(row);
      if (identifier === false && !firstInvalid) firstInvalid = part(row, 'text');
      if (identifier) identifiers.push(identifier);
    }
    if (identifiers.length === 0 && !firstInvalid) {
      const row = rows()[0];
      fieldError(part(row, 'text'), row.querySelector('[data-error]'),
        'Enter at least one identifier: an email address, a phone number, a profile link '
        + 'or an organization id.');
      firstInvalid = part(row, 'text');
    }
    const chosen = form.querySelector('input[name="counselor"]:checked');
    const counselorError = counselors.length && !chosen ? 'Choose a counselor.' : '';
    fieldError(null, byId('counselor-error'), counselorError);
    if (counselorError && !firstInvalid) firstInvalid = form.querySelector('input[name="counselor"]');
    fieldError(contact, byId('contact-error'), contact.value.trim() === ''
      ? 'Tell your counselor how they can reach you safely.' : '');
    if (contact.value.trim() === '' && !firstInvalid) firstInvalid = contact;
    if (!chosen && !counselors.length) {
      showError('No counselor is available yet, so the entry cannot be sealed. Your draft is '
        + 'kept on this device.');
      return;
    }
    if (firstInvalid) {
      showError('Some answers need another look; each one says what to change.', { focus: false });
      firstInvalid.focus();
      return;
    }

    autosave.cancel();
    setBusy(form, true);
    progress.start('Preparing your entry…');
    try {
      await addEntry({
        identifiers,
        counselorId: chosen.value,
        contact: contact.value.trim(),
        message: message.value,
        onProgress: progress.onProgress,
      });
      try {
        await clearDraft(key);
      } catch {
        // The entry is sealed; a leftover draft can be discarded later.
      }
      byId('entry-step').hidden = true;
      byId('entry-done').hidden = false;
      byId('entry-done-title').focus();
    } catch (error) {
      showError(error);
    } finally {
      progress.finish();
      setBusy(form, false);
    }
  });
}, { needsUser: true });
