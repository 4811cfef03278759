// What the keyholder pages (counselor console, organization admin) share: the unlocked
// key check and Lock button of every signed-in page, the unlock / import-backup start
// page, the enrollment form, and file downloads (backups, and /join's tokens).
import { currentKeyholder, importVault, lockVault, storedVaults, unlockVault, vaultFileName } from '../client/index.js';
import { byId, clearMessages, fieldError, progressFor, setBusy, showError, showStatus, startPage } from './ui.js';

/** Offer `text` as a JSON file download named `name`. */
export function downloadFile(text, name) {
  const blob = new Blob([text], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Offer `vault` (its JSON) as a file download named `name`. */
export function downloadJson(vault, name) {
  downloadFile(JSON.stringify(vault, null, 2), name);
}

function wireLock(role, home, lockSelector) {
  for (const button of document.querySelectorAll(lockSelector)) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await lockVault(role);
        window.location.replace(home);
      } catch (error) {
        button.disabled = false;
        showError(error);
      }
    });
  }
}

/** Start a page of the `role`'s keyholder: `main(keyholder)` runs only with this tab's
 *  unlocked key (its private key already wiped from this copy: the SDK unwraps its own
 *  when it needs it); without one the page goes to `home`, where the key is unlocked or
 *  a backup imported. Buttons matching `lockSelector` lock the key. */
export function startKeyholderPage({ role, home, lockSelector }, main) {
  startPage(async () => {
    wireLock(role, home, lockSelector);
    const keyholder = await currentKeyholder(role);
    if (!keyholder) {
      window.location.replace(home);
      return;
    }
    keyholder.privateKey.fill(0);
    await main(keyholder);
  });
}

/** The start page (`parts.keyholder_unlock`): unlock the `role`'s key held by this
 *  browser and go to `next`, or import a backup file first. With `wrongRole` (a message),
 *  a backup of another role is refused. */
export function startUnlockPage({ role, next, wrongRole = null }) {
  startPage(async () => {
    const section = byId('unlock-section');
    const form = byId('unlock-form');
    const passphrase = byId('unlock-passphrase');
    const progress = progressFor('unlock-progress');
    const refresh = async () => {
      section.hidden = (await storedVaults(role)).length === 0;
    };
    await refresh();

    byId('import-file').addEventListener('change', async (event) => {
      clearMessages();
      const input = event.target;
      const file = input.files && input.files[0];
      if (!file) return;
      try {
        const imported = await importVault(await file.text());
        if (wrongRole && imported.role !== role) throw new Error(wrongRole);
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
        const held = await unlockVault({ role, passphrase: passphrase.value });
        held.privateKey.fill(0);
        passphrase.value = '';
        window.location.replace(next);
      } catch (error) {
        progress.finish();
        setBusy(form, false);
        showError(error);
      }
    });
  });
}

/**
 * Wire the enrollment form (`parts.keyholder_enroll_fields`): check the fields
 * (`passphraseProblem(value)` → a message, or '' when the passphrase will do), then
 * `enroll({code, passphrase, progress})` → {vault, …}; on success the form gives way to
 * #enroll-done (after `done(enrolled)`), whose Download button offers the backup (then
 * `downloaded()`).
 */
export function wireEnrollForm({ passphraseProblem, progressLabel, enroll, done = () => {}, downloaded = () => {} }) {
  const form = byId('enroll-form');
  const code = byId('enroll-code');
  const passphrase = byId('enroll-passphrase');
  const confirm = byId('enroll-confirm');
  const progress = progressFor('enroll-progress');
  let vault = null;

  byId('enroll-download').addEventListener('click', () => {
    if (!vault) return;
    downloadJson(vault, vaultFileName(vault));
    downloaded();
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const missingCode = code.value.trim() === '' ? 'Enter the enrollment code.' : '';
    const weak = passphraseProblem(passphrase.value);
    const mismatch = confirm.value !== passphrase.value ? 'The two passphrases differ.' : '';
    fieldError(code, byId('enroll-code-error'), missingCode);
    fieldError(passphrase, byId('enroll-passphrase-error'), weak);
    fieldError(confirm, byId('enroll-confirm-error'), mismatch);
    const first = [[missingCode, code], [weak, passphrase], [mismatch, confirm]].find(([m]) => m);
    if (first) {
      first[1].focus();
      return;
    }
    setBusy(form, true);
    progress.start(progressLabel);
    try {
      const enrolled = await enroll({ code: code.value, passphrase: passphrase.value, progress });
      vault = enrolled.vault;
      passphrase.value = '';
      confirm.value = '';
      progress.finish();
      form.hidden = true;
      done(enrolled);
      byId('enroll-done').hidden = false;
      byId('enroll-done-title').focus();
    } catch (error) {
      progress.finish();
      setBusy(form, false);
      showError(error);
    }
  });
}
