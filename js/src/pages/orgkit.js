// What the organization admin's pages share: the unlocked key check (no key in this tab
// → /org, where the admin unlocks or imports a backup) and the Lock button.
import { ORG_ADMIN_ROLE } from '../client/index.js';
import { startKeyholderPage } from './keyholderkit.js';

/** Start an admin page: `main(keyholder)` runs only with this tab's unlocked key (see
 *  `startKeyholderPage`). */
export function startOrgPage(main) {
  startKeyholderPage({ role: ORG_ADMIN_ROLE, home: '/org', lockSelector: '[data-org-lock]' }, main);
}
