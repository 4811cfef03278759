// The landing page: it works without the SDK; the script only adds quick exit and, for
// someone already signed in on this tab, a way straight back to their records.

import { startPage } from './ui.js';

startPage(async (user) => {
  if (!user) return;
  for (const node of document.querySelectorAll('[data-signed-out]')) node.hidden = true;
  for (const node of document.querySelectorAll('[data-signed-in]')) node.hidden = false;
});
