// Builds the browser bundles with esbuild:
//   src/client/index.js   → ../src/notalone/web/static/js/notalone.js
//   src/pages/*.js        → ../src/notalone/web/static/js/pages/<name>.js  (if any; they
//                           import the SDK from /static/js/notalone.js at run time)
//   test/browser-vectors.js → ../build/js-test/vectors.js
// ESM, ES2022, minified, external source maps. Prints raw and gzipped sizes.
import { build } from 'esbuild';
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const staticJs = join(repo, 'src/notalone/web/static/js');

const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  platform: 'browser',
  minify: true,
  sourcemap: 'external',
  legalComments: 'linked',
  // No Node built-ins may reach the browser bundle; esbuild fails the build if one does.
  logLevel: 'warning',
};

// Pages import '../client/index.js'; in the bundle that import points at the SDK's own
// bundle URL, so every page shares one cached copy of the SDK instead of carrying its own
// (and one page load holds exactly one SDK instance).
const SDK_URL = process.env.NOTALONE_SDK_URL ?? '/static/js/notalone.js';
const sdkEntry = join(here, 'src/client/index.js');
const sdkAsExternal = {
  name: 'sdk-as-external',
  setup(b) {
    b.onResolve({ filter: /client\/index\.js$/ }, (args) =>
      join(args.resolveDir, args.path) === sdkEntry ? { path: SDK_URL, external: true } : undefined,
    );
  },
};

const jobs = [{ entryPoints: [sdkEntry], outfile: join(staticJs, 'notalone.js') }];

const pagesDir = join(here, 'src/pages');
if (existsSync(pagesDir)) {
  const pages = readdirSync(pagesDir).filter((f) => f.endsWith('.js')).map((f) => join(pagesDir, f));
  if (pages.length) jobs.push({ entryPoints: pages, outdir: join(staticJs, 'pages'), entryNames: '[name]', legalComments: 'none', plugins: [sdkAsExternal] });
}

jobs.push({ entryPoints: [join(here, 'test/browser-vectors.js')], outfile: join(repo, 'build/js-test/vectors.js') });

const outputs = [];
for (const job of jobs) {
  const result = await build({ ...common, ...job, metafile: true });
  for (const file of Object.keys(result.metafile.outputs)) if (file.endsWith('.js')) outputs.push(join(process.cwd(), file));
}

const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
for (const file of outputs) {
  const data = readFileSync(file);
  console.log(`${relative(repo, file).padEnd(52)} ${kib(data.length).padStart(10)}  gzip ${kib(gzipSync(data, { level: 9 }).length).padStart(9)}  (${basename(file)})`);
}
