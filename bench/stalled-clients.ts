/**
 * Clients that stop reading: 100 at the TCP level (a wedged Envoy, or a proxy in front of one),
 * with Envoy's wide HTTP/2 windows opened before the server's SETTINGS, subscribed to clusters,
 * listeners and the route table; then 100 that pause their HTTP/2 stream (64 KiB windows) after
 * asking for clusters; 10k and 20k triggers, the controller process in file mode. Measured: a healthy client's time to its full config and to a change (a file
 * written next to the manifests), and the server's resident memory, without and with them.
 *
 * Run via `npm run bench`, or alone: `node dist/bench/stalled-clients.js`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TypeUrl } from '../controller/envoy/protos';
import { ROUTE_CONFIG_NAME } from '../controller/envoy/translate';
import { AdsClient, sotwAck, stalledClient, tcpStalledClient, type SotwRequest, type SotwResponse } from '../test/support/ads-client';
import { metric, spawnController, type ControllerProcess } from '../test/support/controller-process';
import { triggerYaml } from '../test/support/fixtures';
import { mib, runBench } from './stats';

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
  return mib(await metric(admin, 'process_resident_memory_bytes'));
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
    const port = controller.xdsPort;
    const alone = await healthyClient(port, 'alone');
    const aloneChange = await changeReaches(alone, () => fs.writeFileSync(path.join(dir, 'a.yaml'), triggerYaml('a', 'a.example.com')));
    const aloneRss = await residentMib(controller.admin);
    alone.close();
    /** With `stall` clients stalled: a newcomer's full config and a change, and the server's RSS. */
    const withStalled = async (name: string, stall: () => Promise<{ close: () => void }[]>) => {
      const stalled = await stall();
      // The server sends them what it will; then a newcomer.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const newcomer = await healthyClient(port, `newcomer-${name}`);
      const change = await changeReaches(newcomer, () => fs.writeFileSync(path.join(dir, `${name}.yaml`), triggerYaml(name, `${name}.example.com`)));
      const rss = await residentMib(controller!.admin);
      newcomer.close();
      for (const s of stalled) s.close();
      return `full config ${newcomer.ms.toFixed(0)} ms, a change ${change.toFixed(0)} ms, server RSS ${rss}`;
    };
    const atTcp = await withStalled('tcp', async () => {
      const sockets = [];
      for (let i = 0; i < STALLED; i++) sockets.push(await tcpStalledClient(port, requests(`wedged-${i}`)));
      return sockets.map((socket) => ({ close: () => socket.destroy() }));
    });
    const atStream = await withStalled('stream', async () =>
      Array.from({ length: STALLED }, (_, i) => stalledClient(port, TypeUrl.Cluster, `paused-${i}`)).map((session) => ({ close: () => session.destroy() })),
    );
    console.log(
      `  ${String(count).padStart(6)} triggers: healthy client alone: full config ${alone.ms.toFixed(0)} ms, a change ${aloneChange.toFixed(0)} ms, server RSS ${aloneRss}` +
        ` | with ${STALLED} stalled at TCP: ${atTcp} | with ${STALLED} paused HTTP/2 streams (CDS): ${atStream}`,
    );
  } finally {
    if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchStalledClients(): Promise<void> {
  console.log(`Clients that stop reading (${STALLED} at a time; controller process, file mode; a change includes the file source's 100 ms settle and the hold-off):`);
  for (const count of [10_000, 20_000]) await benchCount(count);
}

if (require.main === module) {
  runBench('wasm-control stalled-clients bench', benchStalledClients);
}
