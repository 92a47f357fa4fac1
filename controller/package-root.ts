import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/**
 * The folder holding wasm-control's package.json. Data files (the CRD, RBAC,
 * examples) are found from here, so the same code works from the TypeScript
 * sources, from `dist/` and inside the container image.
 */
export function packageRoot(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && JSON.parse(fs.readFileSync(manifest, 'utf8')).name === 'wasm-control') {
      return (cached = dir);
    }
    if (path.dirname(dir) === dir) throw new Error(`wasm-control's package.json was not found above ${__dirname}`);
  }
}
