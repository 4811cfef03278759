// What the counselor console's pages share: the unlocked key check (no key in this tab
// → /counselor, where the counselor unlocks or imports a backup), the Lock button, the
// backup download and the words for case states.
import { COUNSELOR_ROLE, currentKeyholder, lockVault } from '../client/index.js';
import { showError, startPage } from './ui.js';

export const STATE_LABELS = Object.freeze({ new: 'New', contacted: 'Contacted', closed: 'Closed' });

function wireLock() {
  for (const button of document.querySelectorAll('[data-counselor-lock]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await lockVault(COUNSELOR_ROLE);
        window.location.replace('/counselor');
      } catch (error) {
        button.disabled = false;
        showError(error);
      }
    });
  }
}

/** Start a console page: `main(keyholder)` runs only with this tab's unlocked key (its
 *  private key already wiped from this copy: the SDK unwraps its own when it needs it). */
export function startCounselorPage(main) {
  startPage(async () => {
    wireLock();
    const keyholder = await currentKeyholder(COUNSELOR_ROLE);
    if (!keyholder) {
      window.location.replace('/counselor');
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
