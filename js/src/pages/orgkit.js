// What the organization admin's pages share: the unlocked key check (no key in this tab
// → /org, where the admin unlocks or imports a backup) and the Lock button.
import { currentKeyholder, lockVault, ORG_ADMIN_ROLE } from '../client/index.js';
import { showError, startPage } from './ui.js';

function wireLock() {
  for (const button of document.querySelectorAll('[data-org-lock]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await lockVault(ORG_ADMIN_ROLE);
        window.location.replace('/org');
      } catch (error) {
        button.disabled = false;
        showError(error);
      }
    });
  }
}

/** Start an admin page: `main(keyholder)` runs only with this tab's unlocked key. */
export function startOrgPage(main) {
  startPage(async () => {
    wireLock();
    const keyholder = await currentKeyholder(ORG_ADMIN_ROLE);
    if (!keyholder) {
      window.location.replace('/org');
      return;
    }
    keyholder.privateKey.fill(0);
    await main(keyholder);
  });
}

/** Offer `vault` (its JSON) as a file download named `name`. */
export function downloadJson(vault, name) {
  const blob = new Blob([JSON.stringify(vault, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
