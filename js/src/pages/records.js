// /records: the survivor's records, decrypted here (the SDK checks every receipt while
// listing and throws if one fails), newest first; a pointer to an unsaved draft; and a
// button that checks the receipts against the log again.

import { listRecords, loadDraft, verifyLog } from '../client/index.js';
import {
  latestVersion, normalizeContent, recordTitle, verifiedText,
} from './recordkit.js';
import {
  byId, draftContent, draftKey, el, formatTime, progressFor, showError, startPage,
} from './ui.js';

function recordCard(record) {
  const latest = latestVersion(record);
  const content = normalizeContent(latest && latest.content);
  const count = Array.isArray(record.versions) ? record.versions.length : 0;
  const saved = latest ? formatTime(latest.loggedAtMs) : '';
  return el('li', { className: 'card' },
    el('h3', {}, el('a', { href: `/records/${record.recordId}` },
      recordTitle(content, 'Untitled record'))),
    content.who.trim() ? el('p', {}, `Who: ${content.who.trim()}`) : null,
    el('p', { className: 'meta' },
      `${count === 1 ? '1 version' : `${count} versions`}` + (saved ? ` · last saved ${saved}` : '')));
}

startPage(async () => {
  const progress = progressFor('records-progress');
  const list = byId('records-list');

  try {
    const draft = draftContent(await loadDraft(draftKey('record', null)));
    byId('draft-notice').hidden = !draft;
  } catch {
    // A draft that cannot be read is not worth an alarm on the list page.
  }

  progress.start('Opening and checking your records…');
  let records;
  try {
    records = await listRecords({ onProgress: progress.onProgress });
  } finally {
    progress.finish();
  }
  const sorted = [...records].sort((a, b) => {
    const la = latestVersion(a);
    const lb = latestVersion(b);
    return Number(lb ? lb.loggedAtMs : 0) - Number(la ? la.loggedAtMs : 0);
  });
  list.replaceChildren(...sorted.map(recordCard));
  byId('records-empty').hidden = sorted.length > 0;

  const verify = byId('verify-log');
  const result = byId('verify-result');
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    result.textContent = 'Checking…';
    try {
      const checked = await verifyLog();
      result.textContent = verifiedText(checked);
    } catch (error) {
      result.textContent = '';
      showError(error);
    } finally {
      verify.disabled = false;
    }
  });
}, { needsUser: true });
