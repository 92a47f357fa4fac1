/**
 * The controller process: sources → pipeline → snapshot → ADS server, plus an
 * admin HTTP server. `npm start` runs it in file mode on examples/.
 */
import * as http from 'node:http';
import { parseArgs } from 'node:util';
import pino from 'pino';
import * as prom from 'prom-client';
import { Pipeline, resourceList } from './pipeline';
import { FileSource } from './sources/files';
import { AdsServer } from './xds/server';
import { SnapshotBuilder } from './xds/snapshot';

const USAGE = `usage: node dist/controller/main.js [options]
  --source files            where objects come from (env SOURCE; only files for now)
  --manifests <path>        manifest file or folder, repeatable (env MANIFESTS, comma-separated; default examples/)
  --xds-address <host:port> ADS gRPC address (env XDS_ADDRESS; default 127.0.0.1:18000)
  --admin-address <host:port> admin HTTP address (env ADMIN_ADDRESS; default 127.0.0.1:9902)
  --log-level <level>       pino level (env LOG_LEVEL; default info)`;

/** Bursts of file events become one snapshot: wait for quiet, but never longer than the cap. */
const HOLD_OFF_MS = 100;
const MAX_DELAY_MS = 500;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      source: { type: 'string' },
      manifests: { type: 'string', multiple: true },
      'xds-address': { type: 'string' },
      'admin-address': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sourceKind = values.source ?? process.env.SOURCE ?? 'files';
  if (sourceKind !== 'files') {
    throw new Error(`--source ${sourceKind} is not available yet: this version reads manifests from files only (--source files --manifests <path>)`);
  }
  const manifests = values.manifests ?? process.env.MANIFESTS?.split(',') ?? ['examples/'];
  const xdsAddress = values['xds-address'] ?? process.env.XDS_ADDRESS ?? '127.0.0.1:18000';
  const adminAddress = values['admin-address'] ?? process.env.ADMIN_ADDRESS ?? '127.0.0.1:9902';
  const log = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });

  const registry = new prom.Registry();
  const streams = new prom.Gauge({ name: 'wasm_control_xds_streams', help: 'Open ADS streams', registers: [registry] });
  const pushes = new prom.Counter({ name: 'wasm_control_xds_pushes_total', help: 'xDS responses sent', labelNames: ['type'], registers: [registry] });
  const nacks = new prom.Counter({ name: 'wasm_control_xds_nacks_total', help: 'xDS responses rejected by clients', labelNames: ['type'], registers: [registry] });
  const resolveSeconds = new prom.Histogram({ name: 'wasm_control_resolve_seconds', help: 'Resolve + translate + encode time', registers: [registry] });
  const triggers = new prom.Gauge({ name: 'wasm_control_triggers', help: 'HTTPTriggers by state', labelNames: ['state'], registers: [registry] });
  const shortType = (t: string) => t.split('.').pop()!;

  const ads = new AdsServer({
    onStreamChange: (open) => streams.set(open),
    onPush: (type) => pushes.inc({ type: shortType(type) }),
    onNack: (node, type, version, message) => {
      nacks.inc({ type: shortType(type) });
      log.warn({ node, type, version, message }, 'xDS client rejected a config; it is not sent again until the routing changes');
    },
  });
  const pipeline = new Pipeline();
  const builder = new SnapshotBuilder();
  let lastOutput: ReturnType<Pipeline['run']> | undefined;
  let manifestDiagnostics: unknown[] = [];

  const source = new FileSource(manifests, {
    onChange: () => schedule(),
    onFileError: (file, reason) => log.error({ file, reason }, 'manifest file skipped; its last good content is kept'),
  });
  const rebuild = () => {
    const end = resolveSeconds.startTimer();
    const objects = source.read();
    const output = pipeline.run(objects);
    ads.setSnapshot(builder.build(output.resources));
    end();
    manifestDiagnostics = objects.diagnostics;
    for (const d of [...objects.diagnostics, ...output.diagnostics]) log.error(d, 'diagnostic');
    triggers.set({ state: 'admitted' }, output.model.admitted.length);
    triggers.set({ state: 'skipped' }, objects.triggers.length - output.model.admitted.length);
    lastOutput = output;
    log.info({ triggers: output.model.admitted.length, version: ads.currentSnapshot()?.version }, 'routing updated');
  };
  let timer: NodeJS.Timeout | undefined;
  let firstEventAt = 0;
  const schedule = () => {
    const now = Date.now();
    if (!timer) firstEventAt = now;
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      rebuild();
    }, Math.max(0, Math.min(HOLD_OFF_MS, firstEventAt + MAX_DELAY_MS - now)));
  };

  rebuild();
  source.watch();
  const xdsPort = await ads.listen(xdsAddress);

  const admin = http.createServer(async (req, res) => {
    const json = (body: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    switch (req.url) {
      case '/healthz':
        return json({ status: 'ok' });
      case '/readyz':
        return ads.currentSnapshot() ? json({ status: 'ready', version: ads.currentSnapshot()!.version }) : json({ status: 'starting' }, 503);
      case '/metrics':
        res.writeHead(200, { 'content-type': registry.contentType });
        return res.end(await registry.metrics());
      case '/debug/config_dump':
        return json({ resources: lastOutput ? resourceList(lastOutput.resources) : [], diagnostics: [...manifestDiagnostics, ...(lastOutput?.diagnostics ?? [])] });
      case '/debug/routes':
        return json(
          (lastOutput?.model.virtualHosts ?? []).flatMap((vh) =>
            vh.routes.map((r) => ({
              host: vh.host,
              path: r.match.path,
              type: r.match.type,
              trigger: r.trigger.key,
              endpoints: (lastOutput!.model.clusters.find((c) => c.name === r.cluster)?.endpoints ?? []).map((e) => `${e.address}:${e.port}`),
            })),
          ),
        );
      case '/debug/clients':
        return json(ads.clients());
      default:
        return json({ error: 'not found' }, 404);
    }
  });
  const [adminHost, adminPort] = splitHostPort(adminAddress);
  await new Promise<void>((resolve) => admin.listen(adminPort, adminHost, resolve));
  const adminBound = admin.address() as { port: number };
  log.info({ xds: `${xdsAddress.replace(/:\d+$/, '')}:${xdsPort}`, admin: `${adminHost}:${adminBound.port}`, manifests }, 'wasm-control listening');

  process.once('SIGTERM', async () => {
    log.info('SIGTERM: closing streams');
    source.close();
    clearTimeout(timer);
    admin.close();
    await ads.close();
    process.exit(0);
  });
}

function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at), Number(address.slice(at + 1))];
}

main().catch((err) => {
  process.stderr.write(`wasm-control: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
