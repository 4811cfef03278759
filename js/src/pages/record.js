// /records/new and /records/{id}: write a record or a new version of one.
//
// - While the survivor writes, the form is saved as an encrypted local draft (SDK
//   saveDraft) a moment after each change and when the tab is hidden, so nothing is lost
//   to a timeout or a closed tab; an unsaved draft is brought back on the next visit.
// - Saving encrypts and uploads (addRecord / addVersion); the receipt is shown with the
//   record's versions. "Check the receipts again" runs verifyLog().

import {
  addRecord, addVersion, clearDraft, listRecords, loadDraft, verifyLog,
} from '../client/index.js';
import {
  FIELDS, emptyContent, fieldText, isEmpty, latestVersion, newestFirst, normalizeContent,
  receiptFor, receiptText, sameContent, textToWitnesses, verifiedText, witnessesToText,
} from './recordkit.js';
import {
  byId, clearMessages, draftContent, draftKey, el, formatTime, keepDraft,
  messageOf, progressFor, setBusy, showError, showStatus, startPage,
} from './ui.js';

const PATH = /^\/records\/([0-9a-f]{32})\/?$/;
const AUTOSAVE_MS = 800;

startPage(async () => {
  const match = PATH.exec(window.location.pathname);
  let recordId = match ? match[1] : null;
  let key = draftKey('record', recordId);
  let record = null; // {recordId, versions}
  let saved = emptyContent(); // what the latest saved version says
  let verified = null; // the last verifyLog() result

  const form = byId('record-form');
  const progress = progressFor('record-progress');
  const draftState = byId('draft-state');
  const inputs = {
    when: byId('record-when'),
    where: byId('record-where'),
    who: byId('record-who'),
    what: byId('record-what'),
    witnesses: byId('record-witnesses'),
    text: byId('record-text'),
  };

  function readForm() {
    return {
      v: 1,
      who: inputs.who.value,
      what: inputs.what.value,
      when: inputs.when.value,
      where: inputs.where.value,
      witnesses: textToWitnesses(inputs.witnesses.value),
      text: inputs.text.value,
    };
  }

  function fillForm(content) {
    const c = normalizeContent(content);
    inputs.who.value = c.who;
    inputs.what.value = c.what;
    inputs.when.value = c.when;
    inputs.where.value = c.where;
    inputs.witnesses.value = witnessesToText(c.witnesses);
    inputs.text.value = c.text;
  }

  function showAsExisting() {
    byId('record-title').textContent = 'Your record';
    document.title = 'Your record – NotAlone';
    byId('print-link').href = `/records/${recordId}/print`;
  }

  function versionItem(version) {
    const receipt = receiptFor(record.recordId, version, verified);
    const content = normalizeContent(version.content);
    return el('li', {},
      el('p', {}, el('strong', {}, `Version ${version.version}`),
        ` · logged ${formatTime(version.loggedAtMs)}`),
      el('p', { className: 'meta' }, 'Receipt signed by the log and checked in this browser.'),
      receipt
        ? el('details', {}, el('summary', {}, 'Show the receipt'),
          el('pre', { className: 'receipt' }, receiptText(receipt)))
        : null,
      el('details', {}, el('summary', {}, 'Show what this version says'),
        el('dl', {}, ...FIELDS.flatMap(([name, label]) => [
          el('dt', {}, label),
          el('dd', {}, fieldText(content, name) || '(empty)'),
        ]))));
  }

  function renderVersions() {
    if (!record) return;
    byId('versions').hidden = false;
    byId('versions-list').replaceChildren(...newestFirst(record).map(versionItem));
  }

  // -- Open an existing record -------------------------------------------------------
  if (recordId) {
    showAsExisting();
    progress.start('Opening your record…');
    let records;
    try {
      records = await listRecords({ onProgress: progress.onProgress });
    } finally {
      progress.finish();
    }
    record = records.find((r) => r.recordId === recordId) || null;
    if (!record) {
      form.hidden = true;
      showError('This record could not be found. If you have more than one account, it may '
        + 'belong to another one.');
      return;
    }
    record = { recordId, versions: [...record.versions] };
    const latest = latestVersion(record);
    saved = normalizeContent(latest && latest.content);
    fillForm(saved);
    renderVersions();
  }

  // -- Bring back a draft ------------------------------------------------------------
  const restored = byId('draft-restored');
  try {
    const draft = draftContent(await loadDraft(key));
    if (draft && !sameContent(draft.content, saved)) {
      fillForm(draft.content);
      restored.hidden = false;
      byId('draft-restored-text').textContent = draft.savedAtMs
        ? `We brought back changes you had not saved yet, from ${formatTime(draft.savedAtMs)}.`
        : 'We brought back changes you had not saved yet.';
    }
  } catch (error) {
    showError(`Your unsaved draft could not be opened: ${messageOf(error)}`, { focus: false });
  }

  async function forgetDraft() {
    try {
      await clearDraft(key);
    } catch {
      // Nothing to do: a stale draft is offered again and can be discarded then.
    }
  }

  // -- Autosave ----------------------------------------------------------------------
  const autosave = keepDraft({
    form, key, readForm, isUnchanged: (content) => sameContent(content, saved),
    state: draftState, waitMs: AUTOSAVE_MS,
  });

  byId('discard-draft').addEventListener('click', async () => {
    autosave.cancel();
    fillForm(saved);
    await forgetDraft();
    restored.hidden = true;
    draftState.textContent = '';
    showStatus('The unsaved changes were discarded.');
    inputs.when.focus();
  });

  // -- Save --------------------------------------------------------------------------
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const content = readForm();
    if (isEmpty(content)) {
      showError('Write something in at least one field before saving.');
      return;
    }
    if (recordId && sameContent(content, saved)) {
      showStatus('Nothing has changed since the last saved version.');
      return;
    }
    autosave.cancel();
    setBusy(form, true);
    progress.start('Encrypting and saving…');
    try {
      if (!recordId) {
        const result = await addRecord(content);
        await forgetDraft();
        recordId = result.recordId;
        key = draftKey('record', recordId);
        record = {
          recordId,
          versions: [{
            version: result.version, content, loggedAtMs: result.loggedAtMs,
            receipt: result.receipt,
          }],
        };
        // The address becomes the record's own, so a reload opens it and later saves
        // are new versions of it.
        window.history.replaceState(null, '', `/records/${recordId}`);
        showAsExisting();
      } else {
        const result = await addVersion(recordId, content);
        await forgetDraft();
        record.versions.push({
          version: result.version, content, loggedAtMs: result.loggedAtMs,
          receipt: result.receipt,
        });
      }
      saved = normalizeContent(content);
      restored.hidden = true;
      draftState.textContent = '';
      renderVersions();
      const latest = latestVersion(record);
      showStatus(`Saved as version ${latest.version} at ${formatTime(latest.loggedAtMs)}. `
        + 'Its receipt is listed under "Versions and receipts".');
    } catch (error) {
      showError(error);
    } finally {
      progress.finish();
      setBusy(form, false);
    }
  });

  // -- Check the receipts ------------------------------------------------------------
  const verify = byId('verify-log');
  const result = byId('verify-result');
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    result.textContent = 'Checking…';
    try {
      verified = await verifyLog();
      result.textContent = verifiedText(verified);
      renderVersions();
    } catch (error) {
      result.textContent = '';
      showError(error);
    } finally {
      verify.disabled = false;
    }
  });
}, { needsUser: true });
