// Bundles the operator console: src/main.jsx and its CSS (uPlot's included)
// into exactly index.html, app.js and app.css under --out DIR (default
// console/dist). Same input, same bytes: no timestamps, no source maps.
//
//   node console/build.mjs [--out DIR]

import { build } from 'esbuild';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

function outDir(argv) {
  const i = argv.indexOf('--out');
  if (i === -1) {
    return join(here, 'dist');
  }
  if (!argv[i + 1]) {
    throw new Error('--out needs a directory');
  }
  return resolve(argv[i + 1]);
}

const out = outDir(process.argv.slice(2));

const result = await build({
  absWorkingDir: here,
  entryPoints: { app: 'src/main.jsx' },
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  charset: 'utf8',
  outdir: 'out',
  write: false,
  logLevel: 'warning',
});

const files = new Map([['index.html', await readFile(join(here, 'src/index.html'))]]);
for (const f of result.outputFiles) {
  files.set(f.path.slice(f.path.lastIndexOf('/') + 1), f.contents);
}
for (const name of ['app.js', 'app.css']) {
  if (!files.has(name)) {
    throw new Error(`esbuild produced no ${name}`);
  }
}
if (files.size !== 3) {
  throw new Error(`unexpected outputs: ${[...files.keys()].join(', ')}`);
}

await mkdir(out, { recursive: true });
for (const [name, bytes] of files) {
  await writeFile(join(out, name), bytes);
}
console.log(`console: ${[...files.keys()].join(', ')} -> ${out}`);
