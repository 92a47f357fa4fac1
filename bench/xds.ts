/**
 * xDS push benchmark: 10k triggers loaded, N streams subscribed like Envoy (CDS
 * and LDS wildcard, EDS by cluster name, RDS by route name, and over delta the
 * route table's virtual hosts by VHDS; every response ACKed) in a child process
 * on 127.0.0.1; one trigger changes → time until every stream holds the new
 * routes. Measured from the source reporting the change to the controller
 * (batching, resolve, translate, encode, push, delivery).
 *
 * SotW is measured once more over mutual TLS, as the ControlPlane runs it.
 *
 * Run via `npm run bench`, or alone: `node --expose-gc dist/bench/xds.js`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Controller } from '../controller/controller';
import { TypeUrl } from '../controller/envoy/protos';
import { ROUTE_CONFIG_NAME, virtualHostResourceName } from '../controller/envoy/translate';
import { Pipeline } from '../controller/pipeline';
import { emptyManifestObjects } from '../controller/sources/manifests';
import type { Source, SourceObjects } from '../controller/sources/source';
import type { AdsServer } from '../controller/xds/server';
import { SnapshotBuilder, type Snapshot } from '../controller/xds/snapshot';
import type { XdsTlsFiles } from '../controller/xds/tls';
import { AdsClient, envoyNode, sotwAck, type DeltaResponse, type SotwResponse } from '../test/support/ads-client';
import { clientCredentials, xdsPki } from '../test/support/pki';
import { syntheticFleet, syntheticTrigger } from './fixtures';
import { grpcFloor } from './grpc-floor';
import { machine, median, mib, percentile } from './stats';

type Mode = 'sotw' | 'delta';

/** Files of a client certificate and the CA the server's chains to (PEM). */
interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

type ToClients =
  | { kind: 'start'; port: number; mode: Mode; streams: number; clusters: string[]; tls?: ClientTls }
  | { kind: 'expect'; id: number; name: string; version: string }
  | { kind: 'stop' };

type FromClients = { kind: 'ready' } | { kind: 'done'; id: number } | { kind: 'stopped'; rss: number };

const CHANGES = 20;
/** The controller's default hold-off (ControllerOptions.holdOffMs). */
const HOLD_OFF_MS = 100;

interface RunResult {
  latencies: number[];
  /** Bytes of responses and resource entries assembled per change (shared ones once). */
  builtPerChange: number;
  /** Server CPU ms per change, from the source's report until the snapshot is published (resolve and push). */
  serverCpuMs: number;
  serverRss: number;
  clientRss: number;
}

class ClientProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (m: FromClients) => void>();

  constructor() {
    this.child = fork(__filename, ['clients'], { execArgv: [] });
    this.child.on('message', (m: FromClients) => {
      const key = m.kind === 'done' ? `done:${m.id}` : m.kind;
      this.waiting.get(key)?.(m);
      this.waiting.delete(key);
    });
  }

  send(message: ToClients): void {
    this.child.send(message);
  }

  when<K extends FromClients>(key: string): Promise<K> {
    return new Promise((resolve) => this.waiting.set(key, resolve as (m: FromClients) => void));
  }
}

async function run(mode: Mode, streams: number, world: BenchWorld, tls?: ClientTls): Promise<RunResult> {
  const clients = new ClientProcess();
  const ready = clients.when('ready');
  clients.send({ kind: 'start', port: world.port, mode, streams, clusters: world.clusterNames(), tls });
  await ready;
  const latencies: number[] = [];
  let built = 0;
  let serverCpu = 0;
  let serverRss = 0;
  for (let change = 0; change < CHANGES; change++) {
    // Each a lone change: changes within the controller's hold-off of the last resolve are coalesced and wait for it.
    await new Promise((resolve) => setTimeout(resolve, HOLD_OFF_MS + 20));
    const start = process.hrtime.bigint();
    const builtBefore = world.ads.shared.stats.bytesBuilt;
    const { version, serverCpuMs } = await world.change();
    const done = clients.when(`done:${change}`);
    clients.send({ kind: 'expect', id: change, ...(mode === 'sotw' ? version.sotw : version.delta) });
    await done;
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    built += world.ads.shared.stats.bytesBuilt - builtBefore;
    serverCpu += serverCpuMs;
    serverRss = Math.max(serverRss, process.memoryUsage().rss);
  }
  const stopped = clients.when<{ kind: 'stopped'; rss: number }>('stopped');
  clients.send({ kind: 'stop' });
  const { rss: clientRss } = await stopped;
  return { latencies, builtPerChange: built / CHANGES, serverCpuMs: serverCpu / CHANGES, serverRss, clientRss };
}

/** The controller's input: the synthetic fleet, with one trigger edited per change. */
class BenchSource implements Source {
  readonly fleet = syntheticFleet(10000);
  triggers = [...this.fleet.triggers];
  private notify: () => void = () => undefined;

  async start(onChange: () => void): Promise<void> {
    this.notify = onChange;
  }

  read(): SourceObjects {
    return { ...emptyManifestObjects(), triggers: this.triggers, workloads: this.fleet.workloads, hosts: this.fleet.hosts };
  }

  change(i: number, variant: number): void {
    this.triggers = this.triggers.map((t, j) => (j === i ? syntheticTrigger(i, variant) : t));
    this.notify();
  }

  async close(): Promise<void> {}
}

/**
 * The server side: the controller itself (its change batching, pipeline,
 * snapshot builder and ADS server) over 10k triggers.
 */
class BenchWorld {
  private readonly source = new BenchSource();
  private resolved?: (snapshot: Snapshot) => void;
  readonly controller: Controller;
  private changes = 0;

  constructor(xdsTls?: XdsTlsFiles) {
    this.controller = new Controller({
      source: this.source,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      log: pino({ level: 'silent' }),
      holdOffMs: HOLD_OFF_MS,
      xdsTls,
      onResolved: (_objects, _output, snapshot) => this.resolved?.(snapshot),
    });
  }

  get ads(): AdsServer {
    return this.controller.ads;
  }

  get port(): number {
    return this.controller.xdsPort;
  }

  async start(): Promise<void> {
    await this.controller.start();
  }

  clusterNames(): string[] {
    return [...this.ads.currentSnapshot()!.types.get(TypeUrl.Cluster)!.resources.keys()];
  }

  /**
   * One trigger's paths change, reported by the source as a watch event would be;
   * returns what holds the new routes (SotW: the table, delta: the trigger's
   * virtual host) and its version once the controller has published it.
   */
  async change(): Promise<{ version: Record<Mode, { name: string; version: string }>; serverCpuMs: number }> {
    this.changes++;
    const i = (this.changes * 7919) % this.source.triggers.length;
    const published = new Promise<Snapshot>((resolve) => (this.resolved = resolve));
    const cpu = process.cpuUsage();
    this.source.change(i, this.changes);
    const snapshot = await published;
    const used = process.cpuUsage(cpu);
    const routes = snapshot.types.get(TypeUrl.RouteConfiguration)!;
    const virtualHost = virtualHostResourceName(syntheticTrigger(i).spec.ingress.host);
    return {
      version: {
        sotw: { name: ROUTE_CONFIG_NAME, version: routes.version },
        delta: { name: virtualHost, version: snapshot.deltaTypes.get(TypeUrl.VirtualHost)!.resources.get(virtualHost)!.version },
      },
      serverCpuMs: (used.user + used.system) / 1000,
    };
  }
}

export async function benchXds(): Promise<void> {
  console.log(
    `xDS push (10k triggers; one trigger changed, ${CHANGES} times, each after a quiet ${HOLD_OFF_MS + 20} ms; streams subscribed like Envoy, in a child process; latency includes the controller's batching; each mode on a fresh server process):`,
  );
  for (const args of [['sotw'], ['delta'], ['sotw', 'mtls']]) {
    // A fresh server per mode, so neither mode's memory or garbage is charged to the other.
    const server = fork(__filename, ['server', ...args], { execArgv: ['--expose-gc'] });
    await new Promise((resolve) => server.on('exit', resolve));
  }
  const table = new SnapshotBuilder().build(new Pipeline().run(syntheticFleet(10000)).envoy).types.get(TypeUrl.RouteConfiguration)!.body.length;
  const floor = await grpcFloor(table);
  console.log(
    `  floor under SotW: grpc-js alone writing one ${mib(table)} message to each of 100 streams (no xDS): median ${median(floor).toFixed(1)} ms, max ${Math.max(...floor).toFixed(1)} ms`,
  );
}

async function benchMode(mode: Mode, mtls: boolean): Promise<void> {
  const dir = mtls ? fs.mkdtempSync(path.join(os.tmpdir(), 'bench-xds-')) : undefined;
  let tls: ClientTls | undefined;
  let serverTls: XdsTlsFiles | undefined;
  if (dir) {
    const { ca, server, client } = await xdsPki(dir, 'bench', ['DNS:localhost']);
    serverTls = { certFile: server.cert, keyFile: server.key, clientCaFile: ca.cert };
    tls = { ca: ca.cert, cert: client.cert, key: client.key };
  }
  const world = new BenchWorld(serverTls);
  let one: RunResult;
  let many: RunResult;
  try {
    await world.start();
    one = await run(mode, 1, world, tls);
    many = await run(mode, 100, world, tls);
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `  ${(mtls ? `${mode}+mTLS` : mode).padEnd(10)} 100 streams: change → all hold the new routes p50 ${percentile(many.latencies, 50).toFixed(1)} ms, p99 ${percentile(many.latencies, 99).toFixed(1)} ms` +
      ` (1 stream: p50 ${percentile(one.latencies, 50).toFixed(1)} ms)` +
      ` | encoded per change 100 vs 1 stream: ${(many.builtPerChange / one.builtPerChange).toFixed(2)}× (${mib(many.builtPerChange)} vs ${mib(one.builtPerChange)})` +
      ` | server CPU per change ${many.serverCpuMs.toFixed(1)} vs ${one.serverCpuMs.toFixed(1)} ms (resolve + push)` +
      ` | RSS server ${mib(many.serverRss)}, clients ${mib(many.clientRss)}`,
  );
  await world.controller.close();
  process.disconnect?.(); // the IPC channel to the parent would keep this process alive
}

/** The child process: N raw ADS streams that ACK everything and report when all hold a version of a resource. */
function clients(): void {
  const RDS = TypeUrl.RouteConfiguration;
  const VHDS = TypeUrl.VirtualHost;
  /** Per stream: versions received by resource name (the initial load of 10k virtual hosts is not recorded). */
  let latest: Map<string, string>[] = [];
  let expected: { id: number; name: string; version: string } | undefined;
  const adsClients: AdsClient[] = [];
  const check = () => {
    if (expected && latest.every((held) => held.get(expected!.name) === expected!.version)) {
      process.send!({ kind: 'done', id: expected.id } satisfies FromClients);
      expected = undefined;
    }
  };
  process.on('message', async (m: ToClients) => {
    if (m.kind === 'expect') {
      expected = m;
      check();
    } else if (m.kind === 'stop') {
      for (const c of adsClients) c.close();
      process.send!({ kind: 'stopped', rss: process.memoryUsage().rss } satisfies FromClients, () => process.exit(0));
    } else {
      latest = Array.from({ length: m.streams }, () => new Map<string, string>());
      const firsts: Promise<unknown>[] = [];
      for (let s = 0; s < m.streams; s++) {
        // Each its own connection, with a large flow-control window and no 4 MiB cap, as Envoy has.
        const credentials = m.tls && clientCredentials(m.tls.ca, m.tls);
        const client = new AdsClient(m.port, { ownConnection: true, flowControlWindow: 64 * 1024 * 1024, maxReceiveMessageLength: 64 * 1024 * 1024, credentials, serverName: 'localhost' });
        adsClients.push(client);
        let firstRoutes!: () => void;
        firsts.push(new Promise<void>((resolve) => (firstRoutes = resolve)));
        const routesArrived = (name: string, version: string) => {
          latest[s].set(name, version);
          firstRoutes();
          check();
        };
        const names: Record<string, string[]> = { [TypeUrl.Cluster]: [], [TypeUrl.ClusterLoadAssignment]: m.clusters, [TypeUrl.Listener]: [], [RDS]: ['ingress_http'] };
        // Envoy's first VirtualHost request is a legacy wildcard: its mux strips the table's namespace name.
        if (m.mode === 'delta') names[VHDS] = [];
        if (m.mode === 'sotw') {
          const stream = client.sotw();
          stream.onResponse = (r: SotwResponse) => {
            stream.send(sotwAck(r, names[r.type_url]));
            if (r.type_url === RDS) routesArrived('ingress_http', r.version_info);
          };
          for (const [typeUrl, n] of Object.entries(names)) stream.send({ type_url: typeUrl, resource_names: n, node: { id: `bench-${s}` } });
        } else {
          const stream = client.delta();
          stream.onResponse = (r: DeltaResponse) => {
            stream.send({ type_url: r.type_url, response_nonce: r.nonce });
            if (r.type_url !== VHDS) return;
            if (r.resources.length > 1000) firstRoutes();
            else for (const x of r.resources) routesArrived(x.name, x.version);
          };
          for (const [typeUrl, n] of Object.entries(names)) stream.send({ type_url: typeUrl, resource_names_subscribe: n, node: envoyNode(`bench-${s}`, 38) });
        }
      }
      await Promise.all(firsts);
      process.send!({ kind: 'ready' } satisfies FromClients);
    }
  });
}

if (require.main === module) {
  if (process.argv[2] === 'server') {
    void benchMode(process.argv[3] as Mode, process.argv[4] === 'mtls');
  } else if (process.argv[2] === 'clients') {
    clients();
  } else {
    console.log(`wasm-control xDS bench — ${machine()}`);
    void benchXds();
  }
}
