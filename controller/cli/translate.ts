/**
 * `npm run --silent translate -- <file-or-dir>...`: prints what manifests become
 * in Envoy, as `{ "resources": [...], "diagnostics": [...] }` (resources in the
 * proto3 JSON mapping with .proto field names, as Envoy's /config_dump prints them).
 */
import { Pipeline, resourceList } from '../pipeline';
import { loadManifests, ManifestError } from '../sources/manifests';

const USAGE = `usage: npm run --silent translate -- <file-or-dir>...

Reads HTTPTrigger, Workload and Host manifests (YAML, multi-document, folders
recursively) and prints the Envoy resources and diagnostics they produce.`;

export function main(argv: string[]): number {
  const paths = argv.filter((a) => a !== '--');
  if (paths.length === 0 || paths.some((a) => a === '-h' || a === '--help')) {
    process.stderr.write(`${USAGE}\n`);
    return paths.length === 0 ? 2 : 0;
  }
  let objects;
  try {
    objects = loadManifests(paths);
  } catch (err) {
    if (err instanceof ManifestError) {
      process.stderr.write(`translate: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(translateOutput(objects));
  return 0;
}

/** What `translate` prints for the objects of some manifests: the resources and every diagnostic, as JSON. */
export function translateOutput(objects: ReturnType<typeof loadManifests>): string {
  const out = new Pipeline().run(objects);
  return `${JSON.stringify({ resources: resourceList(out.resources), diagnostics: [...objects.diagnostics, ...out.diagnostics] }, null, 2)}\n`;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
