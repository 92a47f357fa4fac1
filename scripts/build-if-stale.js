#!/usr/bin/env node
/**
 * Compiles the project (tsc, incremental) only when a TypeScript source or the tsconfig changed
 * since the last build, so `npm start`, `npm run translate` and `npm run envoy-bootstrap` start at
 * once when nothing changed, and are never run against stale output after an edit. Plain
 * JavaScript: it runs before anything is compiled.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const buildInfo = path.join(root, 'dist', '.tsbuildinfo'); // tsconfig.json's tsBuildInfoFile
const sources = ['controller', 'components', 'test', 'bench', 'index.ts', 'tsconfig.json'];

/** The newest modification time of the TypeScript sources under `p`. */
function newest(p) {
  const stat = fs.statSync(p, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return p.endsWith('.ts') || p.endsWith('tsconfig.json') ? stat.mtimeMs : 0;
  let latest = 0;
  for (const entry of fs.readdirSync(p)) latest = Math.max(latest, newest(path.join(p, entry)));
  return latest;
}

const built = fs.statSync(buildInfo, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (sources.some((s) => newest(path.join(root, s)) > built)) {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
  // tsc leaves its build info alone when a touched file compiles to the same output: mark the build.
  const now = new Date();
  fs.utimesSync(buildInfo, now, now);
}
