// /org/reports: the organization's formal reports, each opened here with its key.
import { orgReports } from '../client/index.js';
import { byId, el, formatTime, progressFor } from './ui.js';
import { startOrgPage } from './orgkit.js';

startOrgPage(async () => {
  const progress = progressFor('reports-progress');
  progress.start('Opening reports');
  let reports;
  try {
    reports = await orgReports();
  } finally {
    progress.finish();
  }
  byId('reports-empty').hidden = reports.length > 0;
  byId('reports-list').replaceChildren(...reports.map((r) => el('li', { className: 'card', 'data-report': r.id },
    el('h2', {}, `Report from ${r.counselorName}`),
    el('p', { className: 'meta' }, `${formatTime(r.createdAtMs)} · match ${r.matchId.slice(0, 8)}`),
    r.text === null
      ? el('p', { className: 'error' }, r.error)
      : el('p', { className: 'report-text', 'data-report-text': true }, r.text))));
});
