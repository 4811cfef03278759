// In-browser vector run: fetches the vector JSON files from a URL prefix, runs the same
// checks as `npm test` (test/vector-checks.js) and publishes the results as JSON in
// document.body.dataset.results and in <pre id="results">.
//
// The prefix comes from window.NOTALONE_VECTORS_BASE, or from a data-vectors-base
// attribute on <body> or on this script's <script> element. Files are fetched as
// <base>/<name> (e.g. <base>/identifiers.json) and <base>/shared/<file> for the RFC
// vectors, so serve /work/main/vectors at <base>/ and /work/shared/vectors at <base>/shared/.
import { runVectorChecks } from './vector-checks.js';

function vectorsBase() {
  const fromScript = document.currentScript?.dataset?.vectorsBase
    ?? document.querySelector('script[data-vectors-base]')?.dataset?.vectorsBase;
  const base = globalThis.NOTALONE_VECTORS_BASE ?? document.body?.dataset?.vectorsBase ?? fromScript ?? './vectors';
  return base.replace(/\/+$/, '');
}

async function main() {
  const base = vectorsBase();
  const load = async (name) => {
    const response = await fetch(`${base}/${name}`, { cache: 'no-store' });
    if (!response.ok) throw new Error(`could not load ${name}: HTTP ${response.status}`);
    return response.json();
  };
  let results;
  try {
    results = await runVectorChecks(load);
  } catch (e) {
    results = [{ name: 'runner', ok: false, detail: String(e?.message ?? e) }];
  }
  const summary = { passed: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, results };
  const text = JSON.stringify(summary, null, 2);
  document.body.dataset.results = JSON.stringify(summary);
  let pre = document.getElementById('results');
  if (!pre) {
    pre = document.createElement('pre');
    pre.id = 'results';
    document.body.append(pre);
  }
  pre.textContent = text;
  document.body.dataset.done = 'true';
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', main, { once: true });
else main();
