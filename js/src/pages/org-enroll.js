// /org/enroll: the operator's code + a passphrase → the organization's X25519 key is made
// here (or taken from an existing admin's backup), the code is redeemed with its public
// half, and the key and token are sealed in this browser's vault; then the backup.
import { orgEnroll, ORG_ADMIN_ROLE, unlockVault } from '../client/index.js';
import { byId, startPage } from './ui.js';
import { wireEnrollForm } from './keyholderkit.js';

startPage(async () => {
  const backup = byId('enroll-backup');
  const backupPassphrase = byId('enroll-backup-passphrase');

  wireEnrollForm({
    passphraseProblem: (value) => (value === '' ? 'Choose a passphrase.' : ''),
    progressLabel: 'Enrolling. Sealing the key can take a few seconds.',
    enroll: async ({ code, passphrase, progress }) => {
      let keyFrom = null;
      if (backup.files && backup.files.length > 0) {
        progress.onProgress({ label: 'Opening the existing admin\'s backup' });
        keyFrom = await unlockVault({ role: ORG_ADMIN_ROLE, passphrase: backupPassphrase.value, vault: await backup.files[0].text() });
      }
      const enrolled = await orgEnroll({ code, passphrase, keyFrom, onProgress: progress.onProgress });
      if (keyFrom) keyFrom.privateKey.fill(0);
      backupPassphrase.value = '';
      return enrolled;
    },
  });
});
