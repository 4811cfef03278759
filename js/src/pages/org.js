// /org: unlock the organization key held by this browser, or import a backup file first.
import { ORG_ADMIN_ROLE } from '../client/index.js';
import { startUnlockPage } from './keyholderkit.js';

startUnlockPage({ role: ORG_ADMIN_ROLE, next: '/org/dashboard' });
