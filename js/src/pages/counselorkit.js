// What the counselor console's pages share: the unlocked key check (no key in this tab
// → /counselor, where the counselor unlocks or imports a backup), the Lock button and
// the words for case states.
import { COUNSELOR_ROLE } from '../client/index.js';
import { startKeyholderPage } from './keyholderkit.js';

export const STATE_LABELS = Object.freeze({ new: 'New', contacted: 'Contacted', closed: 'Closed' });

/** Start a console page: `main(keyholder)` runs only with this tab's unlocked key (see
 *  `startKeyholderPage`). */
export function startCounselorPage(main) {
  startKeyholderPage({ role: COUNSELOR_ROLE, home: '/counselor', lockSelector: '[data-counselor-lock]' }, main);
}
