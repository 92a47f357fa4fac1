/**
 * Small routing worlds for xDS protocol tests: named triggers, each on its own
 * host name and cluster, served by an AdsServer on 127.0.0.1, with raw clients.
 */
import { TypeUrl } from '../../controller/envoy/protos';
import { Pipeline } from '../../controller/pipeline';
import { AdsServer, type XdsServerEvents } from '../../controller/xds/server';
import { SnapshotBuilder, type Snapshot } from '../../controller/xds/snapshot';
import { AdsClient } from './ads-client';
import { host, trigger, workload } from './fixtures';

export const CDS = TypeUrl.Cluster;
export const EDS = TypeUrl.ClusterLoadAssignment;
export const LDS = TypeUrl.Listener;
export const RDS = TypeUrl.RouteConfiguration;
export const VHDS = TypeUrl.VirtualHost;

export interface WorldState {
  /** Trigger names; each gets host `<name>.test`, one cluster and one endpoint. */
  triggers: string[];
  /** Per trigger, a path other than `/api` (changes its routes only). */
  paths?: Record<string, string>;
  /** Per trigger, the endpoint's port (changes its endpoints only). */
  ports?: Record<string, number>;
  /** Envoy's listener port (changes LDS only). */
  listenerPort?: number;
}

export class World {
  readonly ads: AdsServer;
  port = 0;
  private readonly clients: AdsClient[] = [];
  private readonly builder = new SnapshotBuilder();
  snapshot?: Snapshot;

  constructor(events: XdsServerEvents = {}, options: ConstructorParameters<typeof AdsServer>[1] = {}) {
    this.ads = new AdsServer(events, options);
  }

  async start(state: WorldState): Promise<this> {
    this.port = await this.ads.listen('127.0.0.1:0');
    this.set(state);
    return this;
  }

  /** Publishes the snapshot for `state`. */
  set(state: WorldState): Snapshot {
    const hosts = state.triggers.map((t) => host(`h-${t}`, { hostname: '127.0.0.1', httpPort: state.ports?.[t] ?? 9000 }));
    const workloads = state.triggers.map((t) => workload(`w-${t}`, t, `h-${t}`));
    const triggers = state.triggers.map((t, i) =>
      trigger(t, { host: `${t}.test`, paths: [[state.paths?.[t] ?? '/api', 'Prefix']], created: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString() }),
    );
    const { envoy } = new Pipeline({ listenerPort: state.listenerPort }).run({ triggers, workloads, hosts });
    this.snapshot = this.builder.build(envoy);
    this.ads.setSnapshot(this.snapshot);
    return this.snapshot;
  }

  /** Names of one type in the current snapshot. */
  names(typeUrl: string): string[] {
    return [...this.snapshot!.types.get(typeUrl as typeof CDS)!.resources.keys()];
  }

  client(options: ConstructorParameters<typeof AdsClient>[1] = {}): AdsClient {
    const client = new AdsClient(this.port, options);
    this.clients.push(client);
    return client;
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.close();
    await this.ads.close();
  }
}
