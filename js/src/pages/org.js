// /org: unlock the organization key held by this browser, or import a backup file first.
import { importVault, storedVaults, unlockVault } from '../client/index.js';
import { byId, clearMessages, fieldError, progressFor, setBusy, showError, showStatus, startPage } from './ui.js';

startPage(async () => {
  const section = byId('unlock-section');
  const form = byId('unlock-form');
  const passphrase = byId('unlock-passphrase');
  const progress = progressFor('unlock-progress');
  const refresh = async () => {
    section.hidden = (await storedVaults('org-admin')).length === 0;
  };
  await refresh();

  byId('import-file').addEventListener('change', async (event) => {
    clearMessages();
    const input = event.target;
    const file = input.files && input.files[0];
    if (!file) return;
    try {
      await importVault(await file.text());
      fieldError(input, byId('import-file-error'), '');
      await refresh();
      showStatus('Backup imported. Unlock it with its passphrase.');
      passphrase.focus();
    } catch (error) {
      fieldError(input, byId('import-file-error'), error.message || 'This file is not a key backup.');
    }
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    fieldError(passphrase, byId('unlock-passphrase-error'), passphrase.value === '' ? 'Enter your passphrase.' : '');
    if (passphrase.value === '') {
      passphrase.focus();
      return;
    }
    setBusy(form, true);
    progress.start('Unlocking. This can take a few seconds.');
    try {
      const held = await unlockVault({ role: 'org-admin', passphrase: passphrase.value });
      held.privateKey.fill(0);
      passphrase.value = '';
      window.location.replace('/org/dashboard');
    } catch (error) {
      progress.finish();
      setBusy(form, false);
      showError(error);
    }
  });
});
