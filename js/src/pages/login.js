// /login: username and passphrase → the SDK derives the keys here (the passphrase is
// never sent) and logs in; then back to the page that sent the survivor here (?next=,
// only one of our own signed-in pages) or to the records.

import { login } from '../client/index.js';
import {
  byId, clearMessages, fieldError, progressFor, setBusy, showError, startPage,
} from './ui.js';

// Only these paths may be returned to: never another site, never a crafted URL.
const NEXT = /^\/(records|entries)(\/new|\/[0-9a-f]{32}(\/print)?)?$/;

function nextPath() {
  const next = new URLSearchParams(window.location.search).get('next');
  return next && NEXT.test(next) ? next : '/records';
}

startPage(async () => {
  const form = byId('login-form');
  const username = byId('username');
  const passphrase = byId('passphrase');
  const progress = progressFor('login-progress');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    fieldError(username, byId('username-error'),
      username.value.trim() === '' ? 'Enter your username.' : '');
    fieldError(passphrase, byId('passphrase-error'),
      passphrase.value === '' ? 'Enter your passphrase.' : '');
    if (username.value.trim() === '') {
      username.focus();
      return;
    }
    if (passphrase.value === '') {
      passphrase.focus();
      return;
    }
    setBusy(form, true);
    progress.start('Unlocking. This can take a few seconds.');
    try {
      await login({
        username: username.value,
        passphrase: passphrase.value,
        onProgress: progress.onProgress,
      });
      passphrase.value = '';
      window.location.replace(nextPath());
    } catch (error) {
      progress.finish();
      setBusy(form, false);
      showError(error);
    }
  });
});
