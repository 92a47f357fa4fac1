/**
 * xDS push benchmark: 10k triggers loaded, N streams subscribed like Envoy (CDS
 * and LDS wildcard, EDS by cluster name, RDS by route name, and over delta the
 * route table's virtual hosts by VHDS; every response ACKed) in a child process
 * on 127.0.0.1; one trigger changes → time until every stream holds the new
 * routes. Measured from the change entering the pipeline (resolve, translate,
 * encode, push, delivery), without the controller's batching hold-off.
 *
 * Run via `npm run bench`, or alone: `node --expose-gc dist/bench/xds.js`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { TypeUrl } from '../controller/envoy/protos';
import { ROUTE_CONFIG_NAME, virtualHostResourceName } from '../controller/envoy/translate';
import { Pipeline } from '../controller/pipeline';
import { AdsServer } from '../controller/xds/server';
import { SnapshotBuilder } from '../controller/xds/snapshot';
import { AdsClient, sotwAck, type DeltaResponse, type SotwResponse } from '../test/support/ads-client';
import { syntheticFleet, syntheticTrigger } from './fixtures';
import { machine, mib, percentile } from './stats';

type Mode = 'sotw' | 'delta';

type ToClients =
  | { kind: 'start'; port: number; mode: Mode; streams: number; clusters: string[] }
  | { kind: 'expect'; id: number; name: string; version: string }
  | { kind: 'stop' };

type FromClients = { kind: 'ready' } | { kind: 'done'; id: number } | { kind: 'stopped'; rss: number };

const CHANGES = 20;

interface RunResult {
  latencies: number[];
  /** Bytes of responses and resource entries assembled per change (shared ones once). */
  builtPerChange: number;
  /** CPU ms of the synchronous push (setSnapshot) per change. */
  pushCpuMs: number;
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

async function run(mode: Mode, streams: number, world: BenchWorld): Promise<RunResult> {
  const clients = new ClientProcess();
  const ready = clients.when('ready');
  clients.send({ kind: 'start', port: world.port, mode, streams, clusters: world.clusterNames() });
  await ready;
  const latencies: number[] = [];
  let built = 0;
  let pushCpu = 0;
  let serverRss = 0;
  for (let change = 0; change < CHANGES; change++) {
    const start = process.hrtime.bigint();
    const builtBefore = world.ads.shared.stats.bytesBuilt;
    const { version, pushCpuMs } = world.change();
    const done = clients.when(`done:${change}`);
    clients.send({ kind: 'expect', id: change, ...(mode === 'sotw' ? version.sotw : version.delta) });
    await done;
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    built += world.ads.shared.stats.bytesBuilt - builtBefore;
    pushCpu += pushCpuMs;
    serverRss = Math.max(serverRss, process.memoryUsage().rss);
  }
  const stopped = clients.when<{ kind: 'stopped'; rss: number }>('stopped');
  clients.send({ kind: 'stop' });
  const { rss: clientRss } = await stopped;
  return { latencies, builtPerChange: built / CHANGES, pushCpuMs: pushCpu / CHANGES, serverRss, clientRss };
}

/** The server side: 10k triggers through the pipeline and the snapshot builder, served by an AdsServer. */
class BenchWorld {
  readonly ads = new AdsServer();
  port = 0;
  private readonly fleet = syntheticFleet(10000);
  private readonly triggers = [...this.fleet.triggers];
  private readonly pipeline = new Pipeline();
  private readonly builder = new SnapshotBuilder();
  private changes = 0;

  async start(): Promise<void> {
    this.port = await this.ads.listen('127.0.0.1:0');
    this.ads.setSnapshot(this.builder.build(this.pipeline.run(this.fleet).envoy));
  }

  clusterNames(): string[] {
    return [...this.ads.currentSnapshot()!.types.get(TypeUrl.Cluster)!.resources.keys()];
  }

  /** One trigger's paths change; returns what holds the new routes (SotW: the table, delta: the trigger's virtual host) and its version. */
  change(): { version: Record<Mode, { name: string; version: string }>; pushCpuMs: number } {
    this.changes++;
    const i = (this.changes * 7919) % this.triggers.length;
    this.triggers[i] = syntheticTrigger(i, this.changes);
    const snapshot = this.builder.build(this.pipeline.run({ ...this.fleet, triggers: this.triggers }).envoy);
    const cpu = process.cpuUsage();
    this.ads.setSnapshot(snapshot);
    const used = process.cpuUsage(cpu);
    const routes = snapshot.types.get(TypeUrl.RouteConfiguration)!;
    const virtualHost = virtualHostResourceName(syntheticTrigger(i).spec.ingress.host);
    return {
      version: {
        sotw: { name: ROUTE_CONFIG_NAME, version: routes.version },
        delta: { name: virtualHost, version: snapshot.deltaTypes.get(TypeUrl.VirtualHost)!.resources.get(virtualHost)!.version },
      },
      pushCpuMs: (used.user + used.system) / 1000,
    };
  }
}

export async function benchXds(): Promise<void> {
  console.log('xDS push (10k triggers; one trigger changed; streams subscribed like Envoy, in a child process):');
  const world = new BenchWorld();
  await world.start();
  for (const mode of ['sotw', 'delta'] as const) {
    const one = await run(mode, 1, world);
    const many = await run(mode, 100, world);
    console.log(
      `  ${mode.padEnd(5)} 100 streams: change → all hold the new routes p50 ${percentile(many.latencies, 50).toFixed(1)} ms, p99 ${percentile(many.latencies, 99).toFixed(1)} ms` +
        ` (1 stream: p50 ${percentile(one.latencies, 50).toFixed(1)} ms)` +
        ` | encoded per change 100 vs 1 stream: ${(many.builtPerChange / one.builtPerChange).toFixed(2)}× (${mib(many.builtPerChange)} vs ${mib(one.builtPerChange)})` +
        ` | push CPU ${many.pushCpuMs.toFixed(1)} vs ${one.pushCpuMs.toFixed(1)} ms (grpc-js framing per stream)` +
        ` | RSS server ${mib(many.serverRss)}, clients ${mib(many.clientRss)}`,
    );
  }
  console.log('  (excludes the controller hold-off: a change waits holdOffMs, 100 ms by default, before it enters the pipeline)');
  await world.ads.close();
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
        const client = new AdsClient(m.port, { ownConnection: true, flowControlWindow: 64 * 1024 * 1024, maxReceiveMessageLength: 64 * 1024 * 1024 });
        adsClients.push(client);
        let firstRoutes!: () => void;
        firsts.push(new Promise<void>((resolve) => (firstRoutes = resolve)));
        const routesArrived = (name: string, version: string) => {
          latest[s].set(name, version);
          firstRoutes();
          check();
        };
        const names: Record<string, string[]> = { [TypeUrl.Cluster]: [], [TypeUrl.ClusterLoadAssignment]: m.clusters, [TypeUrl.Listener]: [], [RDS]: ['ingress_http'] };
        if (m.mode === 'delta') names[VHDS] = ['ingress_http']; // Envoy subscribes to the table's virtual hosts as a namespace
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
          for (const [typeUrl, n] of Object.entries(names)) stream.send({ type_url: typeUrl, resource_names_subscribe: n, node: { id: `bench-${s}` } });
        }
      }
      await Promise.all(firsts);
      process.send!({ kind: 'ready' } satisfies FromClients);
    }
  });
}

if (require.main === module) {
  if (process.argv[2] === 'clients') {
    clients();
  } else {
    console.log(`wasm-control xDS bench — ${machine()}`);
    void benchXds();
  }
}
