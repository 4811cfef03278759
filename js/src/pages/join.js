// /join: the member chooses their organization and types the emailed code; the SDK blinds
// random token inputs, the escrow evaluates them blind, the proof is checked against the
// organization's published key, and the tokens are shown (the first, to copy) and offered
// as a file. Nothing is stored by this page.
import { getMembershipTokens, orgListOrganizations } from '../client/index.js';
import { byId, clearMessages, el, fieldError, progressFor, setBusy, showError, startPage } from './ui.js';
import { downloadFile } from './keyholderkit.js';

startPage(async () => {
  const form = byId('join-form');
  const select = byId('join-organization');
  const code = byId('join-code');
  const progress = progressFor('join-progress');
  const organizations = await orgListOrganizations();
  select.append(...organizations.map((o) => el('option', { value: o.id }, o.name)));

  let file = null;
  byId('tokens-download').addEventListener('click', () => {
    if (file) downloadFile(file, 'notalone-registration-tokens.json');
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    let firstInvalid = null;
    const invalid = (input, id, text) => {
      fieldError(input, byId(id), text);
      if (text && !firstInvalid) firstInvalid = input;
    };
    invalid(select, 'join-organization-error', select.value ? '' : 'Choose your organization.');
    invalid(code, 'join-code-error', code.value.trim() ? '' : 'Enter the member code from the email.');
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }
    setBusy(form, true);
    progress.start('Getting your tokens');
    try {
      const result = await getMembershipTokens({ organizationId: select.value, code: code.value });
      file = result.file;
      code.value = '';
      byId('token-text').value = result.texts[0];
      byId('tokens-count').textContent = result.texts.length === 1
        ? 'You have 1 token.' : `You have ${result.texts.length} tokens; the first is shown here, all are in the file.`;
      byId('join-step').hidden = true;
      byId('tokens-step').hidden = false;
      byId('tokens-title').focus();
    } catch (e) {
      if (e.code === 'code_refused') {
        invalid(code, 'join-code-error', 'This code was not accepted: it may be mistyped, expired or already used. Ask your organization for a new one.');
        code.focus();
      } else {
        showError(e);
      }
    } finally {
      progress.finish();
      setBusy(form, false);
    }
  });
});
