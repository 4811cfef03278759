// /org/enroll: the operator's code + a passphrase → the organization's X25519 key is made
// here (or taken from an existing admin's backup), the code is redeemed with its public
// half, and the key and token are sealed in this browser's vault; then the backup.
import { orgEnroll, unlockVault, vaultFileName } from '../client/index.js';
import { byId, clearMessages, fieldError, progressFor, setBusy, showError, startPage } from './ui.js';
import { downloadJson } from './orgkit.js';

startPage(async () => {
  const form = byId('enroll-form');
  const code = byId('enroll-code');
  const passphrase = byId('enroll-passphrase');
  const confirm = byId('enroll-confirm');
  const backup = byId('enroll-backup');
  const backupPassphrase = byId('enroll-backup-passphrase');
  const progress = progressFor('enroll-progress');
  let vault = null;

  byId('enroll-download').addEventListener('click', () => {
    if (vault) downloadJson(vault, vaultFileName(vault));
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const missingCode = code.value.trim() === '' ? 'Enter the enrollment code.' : '';
    const missingPassphrase = passphrase.value === '' ? 'Choose a passphrase.' : '';
    const mismatch = confirm.value !== passphrase.value ? 'The two passphrases differ.' : '';
    fieldError(code, byId('enroll-code-error'), missingCode);
    fieldError(passphrase, byId('enroll-passphrase-error'), missingPassphrase);
    fieldError(confirm, byId('enroll-confirm-error'), mismatch);
    const first = [[missingCode, code], [missingPassphrase, passphrase], [mismatch, confirm]].find(([m]) => m);
    if (first) {
      first[1].focus();
      return;
    }
    setBusy(form, true);
    progress.start('Enrolling. Sealing the key can take a few seconds.');
    try {
      let keyFrom = null;
      if (backup.files && backup.files.length > 0) {
        progress.onProgress({ label: 'Opening the existing admin\'s backup' });
        keyFrom = await unlockVault({ role: 'org-admin', passphrase: backupPassphrase.value, vault: await backup.files[0].text() });
      }
      const enrolled = await orgEnroll({ code: code.value, passphrase: passphrase.value, keyFrom, onProgress: progress.onProgress });
      if (keyFrom) keyFrom.privateKey.fill(0);
      vault = enrolled.vault;
      passphrase.value = '';
      confirm.value = '';
      backupPassphrase.value = '';
      progress.finish();
      form.hidden = true;
      byId('enroll-done').hidden = false;
      byId('enroll-done-title').focus();
    } catch (error) {
      progress.finish();
      setBusy(form, false);
      showError(error);
    }
  });
});
