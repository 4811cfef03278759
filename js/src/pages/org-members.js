// /org/members: the organization admin has a one-time member code mailed to a work
// address (docs/membership-tokens.md). The code is never shown here; the address is not
// kept in the page after it is sent.
import { sendMemberCode } from '../client/index.js';
import { byId, clearMessages, fieldError, setBusy, showError, showStatus } from './ui.js';
import { startOrgPage } from './orgkit.js';

startOrgPage(async () => {
  const form = byId('member-form');
  const email = byId('member-email');
  const error = byId('member-email-error');
  let sent = 0;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const address = email.value.trim();
    if (!address || !address.includes('@')) {
      fieldError(email, error, 'Enter the member’s work email address.');
      email.focus();
      return;
    }
    fieldError(email, error, '');
    setBusy(form, true);
    try {
      await sendMemberCode({ email: address });
      email.value = '';
      sent += 1;
      byId('member-sent-count').textContent = String(sent);
      byId('member-sent').hidden = false;
      showStatus('A member code is on its way to that address. It works once and expires in 3 days.');
    } catch (e) {
      if (e.code === 'email_refused') {
        fieldError(email, error, 'This is not a plain email address.');
        email.focus();
      } else {
        showError(e);
      }
    } finally {
      setBusy(form, false);
    }
  });
});
