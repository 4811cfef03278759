// /counselor/inbox: the counselor's cases with their state; each links to its case page.
import { counselorCases } from '../client/index.js';
import { byId, el, formatTime } from './ui.js';
import { STATE_LABELS, startCounselorPage } from './counselorkit.js';

startCounselorPage(async () => {
  const cases = await counselorCases();
  const list = byId('cases-list');
  byId('cases-empty').hidden = cases.length > 0;
  for (const c of cases) {
    const others = c.otherCounselors.length;
    list.append(
      el('li', { className: 'card', 'data-match': c.matchId },
        el('h2', {}, el('a', { href: `/counselor/case?match=${c.matchId}` }, `Match ${c.matchId.slice(0, 8)}`)),
        el('p', {},
          el('span', { className: c.state === 'closed' ? 'badge badge-withdrawn' : 'badge', 'data-state': c.state }, STATE_LABELS[c.state]),
          ' ',
          el('span', { className: 'meta' }, `updated ${formatTime(c.updatedAtMs)}`)),
        el('p', {},
          `${c.packages.length} ${c.packages.length === 1 ? 'package' : 'packages'} for you`,
          others ? `; ${others} other ${others === 1 ? 'counselor' : 'counselors'} on this match` : ''),
      ),
    );
  }
});
