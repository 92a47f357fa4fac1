/**
 * `npm run --silent translate -- <file-or-dir>...`: prints what manifests become
 * in Envoy, as `{ "resources": [...], "diagnostics": [...] }` (resources in the
 * proto3 JSON mapping with .proto field names, as Envoy's /config_dump prints them).
 */
import { parseArgs } from 'node:util';
import { unlistedHostsSetting, type UnlistedHosts } from '../api/host-policy';
import { Pipeline, resourceList } from '../pipeline';
import { loadManifests, ManifestError } from '../sources/manifests';

const USAGE = `usage: npm run --silent translate -- [--unlisted-hosts allow|deny] <file-or-dir>...

Reads HTTPTrigger, HostPolicy, Namespace, Workload and Host manifests (YAML,
multi-document, folders recursively) and prints the Envoy resources and
diagnostics they produce. --unlisted-hosts is the controller's setting for hosts
no HostPolicy names (default allow).`;

export function main(argv: string[]): number {
  let parsed;
  let unlistedHosts: UnlistedHosts;
  try {
    parsed = parseArgs({ args: argv.filter((a) => a !== '--'), options: { 'unlisted-hosts': { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true });
    unlistedHosts = unlistedHostsSetting('--unlisted-hosts', parsed.values['unlisted-hosts'] ?? 'allow');
  } catch (err) {
    process.stderr.write(`translate: ${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const paths = parsed.positionals;
  if (paths.length === 0 || parsed.values.help) {
    process.stderr.write(`${USAGE}\n`);
    return paths.length === 0 && !parsed.values.help ? 2 : 0;
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
  process.stdout.write(translateOutput(objects, unlistedHosts));
  return 0;
}

/** What `translate` prints for the objects of some manifests: the resources and every diagnostic, as JSON. */
export function translateOutput(objects: ReturnType<typeof loadManifests>, unlistedHosts: UnlistedHosts = 'allow'): string {
  const out = new Pipeline({ unlistedHosts }).run(objects);
  return `${JSON.stringify({ resources: resourceList(out.resources), diagnostics: [...objects.diagnostics, ...out.diagnostics] }, null, 2)}\n`;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
