// /org/dashboard: invites (made, listed, revoked), the counselor pool, totals per quarter.
import {
  orgCreateInvites, orgListInvites, orgListPool, orgOverview, orgRevokeInvite, orgSetInPool, orgTotals,
} from '../client/index.js';
import { byId, clearMessages, el, formatTime, setBusy, showError, showStatus } from './ui.js';
import { startOrgPage } from './orgkit.js';

async function showInvites() {
  const body = byId('invites-body');
  const invites = await orgListInvites();
  body.replaceChildren(...invites.map((invite) => {
    const state = invite.revoked ? 'Revoked' : 'Active';
    const revoke = el('button', { type: 'button', className: 'button button-small button-danger', 'data-invite': invite.id, 'aria-label': `Revoke code ${invite.id}` }, 'Revoke');
    revoke.disabled = invite.revoked;
    revoke.addEventListener('click', async () => {
      clearMessages();
      revoke.disabled = true;
      try {
        await orgRevokeInvite(invite.id);
        showStatus(`Code ${invite.id} revoked.`);
        await showInvites();
      } catch (error) {
        revoke.disabled = false;
        showError(error);
      }
    });
    return el('tr', { 'data-invite-row': invite.id },
      el('td', {}, el('code', {}, invite.id)),
      el('td', {}, `${invite.uses} of ${invite.maxUses}`),
      el('td', {}, invite.expiresAtMs === null ? 'Never' : formatTime(invite.expiresAtMs)),
      el('td', { 'data-invite-state': true }, state),
      el('td', {}, revoke));
  }));
}

async function showPool() {
  const box = byId('pool-list');
  const counselors = await orgListPool();
  const items = counselors.map((c) => {
    const id = `pool-${c.id}`;
    const input = el('input', { type: 'checkbox', id, value: c.id, 'data-pool': c.id, 'aria-describedby': `${id}-fp` });
    input.checked = c.inPool;
    input.addEventListener('change', async () => {
      clearMessages();
      input.disabled = true;
      try {
        await orgSetInPool(c.id, input.checked);
        showStatus(input.checked ? `${c.displayName} added to the pool.` : `${c.displayName} removed from the pool.`);
      } catch (error) {
        input.checked = !input.checked;
        showError(error);
      } finally {
        input.disabled = false;
      }
    });
    return el('div', { className: 'choice' }, input, el('label', { for: id }, c.displayName),
      el('span', { className: 'fingerprint', id: `${id}-fp` }, `Key fingerprint ${c.fingerprint}`));
  });
  const legend = box.querySelector('legend');
  box.replaceChildren(legend, ...(items.length ? items : [el('p', {}, 'No counselor is registered yet.')]));
}

async function showTotals() {
  const rows = await orgTotals();
  byId('totals-body').replaceChildren(...rows.map((q) => el('tr', {},
    el('th', { scope: 'row' }, q.quarter), el('td', {}, String(q.entries)), el('td', {}, String(q.matches)))));
}

startOrgPage(async () => {
  const overview = await orgOverview();
  byId('org-summary').textContent = `${overview.name}. Admins: ${overview.admins.join(', ')}.`;
  const form = byId('invite-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    setBusy(form, true);
    try {
      const made = await orgCreateInvites({
        count: Number(byId('invite-count').value),
        maxUses: Number(byId('invite-uses').value),
        ttlSeconds: Number(byId('invite-days').value) * 24 * 3600,
      });
      byId('new-invites-list').replaceChildren(...made.map((i) => el('li', { className: 'card' },
        el('code', { 'data-new-invite': true }, i.code), ` — up to ${i.maxUses} registration${i.maxUses === 1 ? '' : 's'}`)));
      byId('new-invites').hidden = false;
      byId('new-invites-title').focus();
      await showInvites();
    } catch (error) {
      showError(error);
    } finally {
      setBusy(form, false);
    }
  });
  await Promise.all([showInvites(), showPool(), showTotals()]);
});
