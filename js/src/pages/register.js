// /register: invitation code (or a membership token from /join, pasted or read from the
// tokens file) and passphrase → the SDK creates the account in this
// browser (Argon2id, key wrapping) and logs in; then the generated username and the
// recovery key are shown once, and the survivor confirms they saved the key (typing its
// last group and ticking a box) before going on.

import { register } from '../client/index.js';
import { estimateStrength } from './strength.js';
import {
  byId, clearMessages, fieldError, progressFor, setBusy, showError, startPage,
} from './ui.js';

const MIN_PASSPHRASE = 10;
const MAX_PASSPHRASE = 1024;

// Crockford's base32 forgives O for 0 and I or L for 1; so does this check.
function normalizeGroup(text) {
  return String(text || '')
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[\s\-‐-―−]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
}

function lastGroup(recoveryKey) {
  const groups = String(recoveryKey).split('-');
  return normalizeGroup(groups[groups.length - 1]);
}

function codePointLength(text) {
  return [...text.normalize('NFC')].length;
}

startPage(async () => {
  const form = byId('register-form');
  const invite = byId('invite-code');
  const token = byId('membership-token');
  const tokenFile = byId('membership-token-file');
  const passphrase = byId('passphrase');
  const again = byId('passphrase-again');
  const show = byId('show-passphrase');
  const meter = byId('passphrase-strength');
  const meterText = byId('passphrase-strength-text');
  const progress = progressFor('register-progress');

  // The recovery key lives only in this closure and in the page until the survivor
  // continues; it is never stored.
  let recoveryKey = null;

  passphrase.addEventListener('input', () => {
    const estimate = estimateStrength(passphrase.value);
    meter.value = Math.min(estimate.bits, 100);
    const spaces = passphrase.value !== passphrase.value.trim()
      ? ' Note: it starts or ends with a space, which is kept exactly as typed.' : '';
    meterText.textContent = estimate.text ? estimate.text + spaces : '';
    fieldError(passphrase, byId('passphrase-error'), '');
  });

  // The file's text goes into the token field: the SDK takes a token or a tokens file.
  tokenFile.addEventListener('change', async () => {
    const chosen = tokenFile.files && tokenFile.files[0];
    if (!chosen) return;
    if (chosen.size > 64 * 1024) {
      fieldError(token, byId('membership-token-error'), 'This file is too large to be a tokens file.');
      return;
    }
    token.value = (await chosen.text()).trim();
    fieldError(token, byId('membership-token-error'), '');
  });

  show.addEventListener('change', () => {
    const type = show.checked ? 'text' : 'password';
    passphrase.type = type;
    again.type = type;
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    let firstInvalid = null;
    const invalid = (input, errorId, text) => {
      fieldError(input, byId(errorId), text);
      if (text && !firstInvalid) firstInvalid = input;
    };
    const hasInvite = invite.value.trim() !== '';
    const hasToken = token.value.trim() !== '';
    invalid(invite, 'invite-code-error',
      !hasInvite && !hasToken ? 'Enter the invitation code from your organization, or a registration token.' : '');
    invalid(token, 'membership-token-error',
      hasInvite && hasToken ? 'Use either the invitation code or a registration token, not both.' : '');
    const length = codePointLength(passphrase.value);
    let passphraseError = '';
    if (length < MIN_PASSPHRASE) {
      passphraseError = `Your passphrase needs at least ${MIN_PASSPHRASE} characters.`;
    } else if (length > MAX_PASSPHRASE) {
      passphraseError = `Your passphrase can have at most ${MAX_PASSPHRASE} characters.`;
    }
    invalid(passphrase, 'passphrase-error', passphraseError);
    invalid(again, 'passphrase-again-error',
      !passphraseError && again.value !== passphrase.value
        ? 'The two passphrases are not the same. Please type it again.' : '');
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }

    setBusy(form, true);
    progress.start('Creating your keys. This can take a few seconds.');
    try {
      const account = await register({
        ...(hasToken ? { membershipToken: token.value.trim() } : { inviteCode: invite.value.trim() }),
        passphrase: passphrase.value,
        onProgress: progress.onProgress,
      });
      recoveryKey = account.recoveryKey;
      token.value = '';
      passphrase.value = '';
      again.value = '';
      byId('username-out').textContent = account.username;
      byId('recovery-key-out').textContent = account.recoveryKey;
      byId('register-step').hidden = true;
      byId('recovery-step').hidden = false;
      byId('recovery-title').focus();
    } catch (error) {
      showError(error);
    } finally {
      progress.finish();
      setBusy(form, false);
    }
  });

  const confirm = byId('confirm-form');
  const group = byId('confirm-group');
  const saved = byId('confirm-saved');
  confirm.addEventListener('submit', (event) => {
    event.preventDefault();
    clearMessages();
    let firstInvalid = null;
    const typed = normalizeGroup(group.value);
    let groupError = '';
    if (typed === '') {
      groupError = 'Type the last four characters of your recovery key.';
    } else if (recoveryKey === null || typed !== lastGroup(recoveryKey)) {
      groupError = 'That is not the last group of your recovery key. Please check what you '
        + 'wrote down against the key above.';
    }
    fieldError(group, byId('confirm-group-error'), groupError);
    if (groupError) firstInvalid = group;
    const savedError = saved.checked ? '' : 'Tick this box once your recovery key is saved.';
    fieldError(saved, byId('confirm-saved-error'), savedError);
    if (savedError && !firstInvalid) firstInvalid = saved;
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }
    // Take the key off the page before leaving, and replace this history entry, so
    // neither Back nor a restored tab shows it again.
    byId('recovery-key-out').textContent = '';
    recoveryKey = null;
    window.location.replace('/records');
  });
});
