// /counselor/enroll: the operator's code + a passphrase → the counselor's X25519 key is
// made here, the code is redeemed with its public half, and the key and token are sealed
// in this browser's vault; the inbox link appears only after the backup was downloaded.
import { counselorEnroll, vaultFileName } from '../client/index.js';
import { byId, clearMessages, fieldError, progressFor, setBusy, showError, showStatus, startPage } from './ui.js';
import { estimateStrength } from './strength.js';
import { downloadJson } from './counselorkit.js';

startPage(async () => {
  const form = byId('enroll-form');
  const code = byId('enroll-code');
  const passphrase = byId('enroll-passphrase');
  const confirm = byId('enroll-confirm');
  const meter = byId('enroll-strength');
  const meterText = byId('enroll-strength-text');
  const progress = progressFor('enroll-progress');
  let vault = null;

  passphrase.addEventListener('input', () => {
    const estimate = estimateStrength(passphrase.value);
    meter.value = Math.min(estimate.bits, 100);
    meterText.textContent = estimate.text || '';
    fieldError(passphrase, byId('enroll-passphrase-error'), '');
  });

  byId('enroll-download').addEventListener('click', () => {
    if (!vault) return;
    downloadJson(vault, vaultFileName(vault));
    byId('enroll-continue').hidden = false;
    showStatus('Backup downloaded. Keep it apart from your passphrase.');
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const missingCode = code.value.trim() === '' ? 'Enter the enrollment code.' : '';
    const short = [...passphrase.value.normalize('NFC')].length < 10 ? 'Use at least 10 characters, for example four unrelated words.' : '';
    const mismatch = confirm.value !== passphrase.value ? 'The two passphrases differ.' : '';
    fieldError(code, byId('enroll-code-error'), missingCode);
    fieldError(passphrase, byId('enroll-passphrase-error'), short);
    fieldError(confirm, byId('enroll-confirm-error'), mismatch);
    const first = [[missingCode, code], [short, passphrase], [mismatch, confirm]].find(([m]) => m);
    if (first) {
      first[1].focus();
      return;
    }
    setBusy(form, true);
    progress.start('Enrolling. Sealing your key can take a few seconds.');
    try {
      const enrolled = await counselorEnroll({ code: code.value, passphrase: passphrase.value, onProgress: progress.onProgress });
      vault = enrolled.vault;
      passphrase.value = '';
      confirm.value = '';
      progress.finish();
      form.hidden = true;
      byId('enroll-fingerprint').textContent = enrolled.fingerprint;
      byId('enroll-done').hidden = false;
      byId('enroll-done-title').focus();
    } catch (error) {
      progress.finish();
      setBusy(form, false);
      showError(error);
    }
  });
});
