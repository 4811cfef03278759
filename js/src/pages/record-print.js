// /records/{id}/print: the record's every version with its receipt, laid out for paper
// (the style sheet's print rules hide everything else). Printing or saving as PDF is the
// browser's own dialog.

import { getDeployment, listRecords, verifyLog } from '../client/index.js';
import {
  FIELDS, fieldText, latestVersion, newestFirst, normalizeContent, receiptFor, receiptText,
  recordTitle,
} from './recordkit.js';
import {
  byId, el, formatTime, progressFor, showError, startPage,
} from './ui.js';

const PATH = /^\/records\/([0-9a-f]{32})\/print\/?$/;

function hexOf(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    return Array.from(value, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return '';
}

function versionSection(recordId, version, verified) {
  const content = normalizeContent(version.content);
  const receipt = receiptFor(recordId, version, verified);
  const ciphertext = hexOf(version.ciphertext || version.blob);
  return el('section', { className: 'printout-version' },
    el('h3', {}, `Version ${version.version}, logged ${formatTime(version.loggedAtMs)}`),
    el('dl', {}, ...FIELDS.flatMap(([name, label]) => [
      el('dt', {}, label),
      el('dd', {}, fieldText(content, name) || '(empty)'),
    ])),
    el('h4', {}, 'Receipt'),
    receipt
      ? el('pre', { className: 'receipt' }, receiptText(receipt))
      : el('p', {}, 'This browser was not given the receipt of this version.'),
    ciphertext ? el('h4', {}, 'Encrypted text, as logged') : null,
    ciphertext ? el('pre', { className: 'receipt' }, ciphertext) : null);
}

startPage(async () => {
  const match = PATH.exec(window.location.pathname);
  if (!match) {
    showError('This record could not be found.');
    return;
  }
  const recordId = match[1];
  byId('back-link').href = `/records/${recordId}`;
  const progress = progressFor('print-progress');
  progress.start('Opening and checking your record…');
  let record;
  let verified = null;
  let logKey = '';
  try {
    const records = await listRecords({ onProgress: progress.onProgress });
    record = records.find((r) => r.recordId === recordId);
    if (record && record.versions.some((v) => !v.receipt)) {
      verified = await verifyLog();
    }
    try {
      const deployment = await getDeployment();
      logKey = hexOf(deployment && (deployment.logPublicKey || deployment.log_public_key));
    } catch {
      logKey = '';
    }
  } finally {
    progress.finish();
  }
  if (!record) {
    showError('This record could not be found.');
    return;
  }
  const latest = latestVersion(record);
  const count = record.versions.length;
  byId('printout-title').textContent = recordTitle(latest && latest.content, 'Record');
  byId('printout-meta').textContent = `Record ${recordId} · `
    + `${count === 1 ? '1 version' : `${count} versions`} · printed ${formatTime(Date.now())}`
    + (logKey ? ` · log public key ${logKey}` : '');
  byId('printout-versions').replaceChildren(
    ...newestFirst(record).map((version) => versionSection(recordId, version, verified)),
  );
  byId('printout').hidden = false;
  const print = byId('print-button');
  print.disabled = false;
  print.addEventListener('click', () => window.print());
}, { needsUser: true });
