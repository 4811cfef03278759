// /counselor: unlock the counselor key held by this browser, or import a backup file first.
import { COUNSELOR_ROLE } from '../client/index.js';
import { startUnlockPage } from './keyholderkit.js';

startUnlockPage({ role: COUNSELOR_ROLE, next: '/counselor/inbox', wrongRole: 'This backup is not a counselor key.' });
