/**
 * Clients that stop reading at the TCP level (a wedged Envoy, or a proxy in front of one), with
 * Envoy's wide HTTP/2 windows opened before the server's SETTINGS: 100 of them subscribed to
 * clusters, listeners and the route table of 10k (and 20k) triggers, against the controller process
 * in file mode. Measured: a healthy client's time to its full config and to a change (a file
 * written next to the manifests), and the server's resident memory, without and with them.
 *
 * Run via `npm run bench`, or alone: `node dist/bench/stalled-clients.js`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TypeUrl } from '../controller/envoy/protos';
import { ROUTE_CONFIG_NAME } from '../controller/envoy/translate';
import { AdsClient, sotwAck, tcpStalledClient, type SotwRequest, type SotwResponse } from '../test/support/ads-client';
import { spawnController, type ControllerProcess } from '../test/support/controller-process';
import { triggerYaml } from '../test/support/fixtures';
import { machine, mib } from './stats';

const STALLED = 100;

const requests = (id: string): SotwRequest[] => [
  { type_url: TypeUrl.Cluster, node: { id } },
  { type_url: TypeUrl.Listener, node: { id } },
  { type_url: TypeUrl.RouteConfiguration, resource_names: [ROUTE_CONFIG_NAME], node: { id } },
];

/** A healthy client, ACKing everything; resolves once it holds all three types, with the ms that took. */
async function healthyClient(port: number, id: string): Promise<{ ms: number; routes: () => string | undefined; close: () => void }> {
  const client = new AdsClient(port, { ownConnection: true, maxReceiveMessageLength: 1 << 30 });
  const stream = client.sotw();
  const start = performance.now();
  const held = new Map<string, string>();
  await new Promise<void>((resolve) => {
    stream.onResponse = (response: SotwResponse) => {
      stream.send(sotwAck(response, response.type_url === TypeUrl.RouteConfiguration ? [ROUTE_CONFIG_NAME] : []));
      held.set(response.type_url, response.version_info);
      if (held.size === 3) resolve();
    };
    for (const request of requests(id)) stream.send(request);
  });
  return { ms: performance.now() - start, routes: () => held.get(TypeUrl.RouteConfiguration), close: () => client.close() };
}

async function residentMib(admin: string): Promise<string> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  return mib(Number(/process_resident_memory_bytes (\d+)/.exec(text)?.[1] ?? 0));
}

/** Resolves with the ms until the healthy client holds a new route table, after `change`. */
async function changeReaches(client: { routes: () => string | undefined }, change: () => void): Promise<number> {
  const before = client.routes();
  const start = performance.now();
  change();
  while (client.routes() === before) await new Promise((resolve) => setTimeout(resolve, 2));
  return performance.now() - start;
}

async function benchCount(count: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-stalled-'));
  let controller: ControllerProcess | undefined;
  try {
    fs.writeFileSync(path.join(dir, 'many.yaml'), Array.from({ length: count }, (_, i) => triggerYaml(`t${i}`)).join('---\n'));
    controller = await spawnController(['--manifests', dir, '--rescan-interval', '0']);
    const port = Number(controller.xds.split(':').pop());
    const alone = await healthyClient(port, 'alone');
    const aloneChange = await changeReaches(alone, () => fs.writeFileSync(path.join(dir, 'a.yaml'), triggerYaml('a', 'a.example.com')));
    const aloneRss = await residentMib(controller.admin);
    alone.close();
    const wedged = [];
    for (let i = 0; i < STALLED; i++) wedged.push(await tcpStalledClient(port, requests(`wedged-${i}`)));
    // The server sends them what it will; then a newcomer.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const newcomer = await healthyClient(port, 'newcomer');
    const change = await changeReaches(newcomer, () => fs.writeFileSync(path.join(dir, 'b.yaml'), triggerYaml('b', 'b.example.com')));
    const rss = await residentMib(controller.admin);
    newcomer.close();
    for (const socket of wedged) socket.destroy();
    console.log(
      `  ${String(count).padStart(6)} triggers: healthy client alone: full config ${alone.ms.toFixed(0)} ms, a change ${aloneChange.toFixed(0)} ms, server RSS ${aloneRss}` +
        ` | with ${STALLED} stalled at TCP: full config ${newcomer.ms.toFixed(0)} ms, a change ${change.toFixed(0)} ms, server RSS ${rss}`,
    );
  } finally {
    if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchStalledClients(): Promise<void> {
  console.log(`Clients stalled at the TCP level (${STALLED}, wide HTTP/2 windows, CDS + LDS + RDS; controller process, file mode; a change includes the file source's 100 ms settle and the hold-off):`);
  for (const count of [10_000, 20_000]) await benchCount(count);
}

if (require.main === module) {
  console.log(`wasm-control stalled-clients bench — ${machine()}`);
  benchStalledClients().then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
