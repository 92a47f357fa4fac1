/**
 * Translation of the routing model into Envoy v3 resources. Pure: no I/O, no
 * gRPC, no Kubernetes client.
 *
 * Each resource can be written to protobuf wire bytes (the serving path, see
 * encode.ts) or rendered in the proto3 JSON mapping with `.proto` field names
 * (what Envoy's /config_dump prints; for the CLI, the debug endpoints and tests).
 * Only non-default values are written, so the two agree after a round trip.
 *
 * A Translator reuses the resource object it built for an unchanged model
 * object, so encodings can be cached by identity downstream.
 */
import type { Duration } from '../api/duration';
import type { ValidTrigger } from '../api/validate';
import { sameEndpoints, type Endpoint } from '../resolve/endpoints';
import type { RouteModel, RoutingModel, VirtualHostModel } from '../resolve/resolve';
import {
  METADATA_NAMESPACE,
  METADATA_TRIGGER_KEY,
  writeAssignment,
  writeCluster,
  writeRouteTableHead,
  writeVirtualHost,
  writeVirtualHostEntry,
  type RouteSink,
} from './encode';
import { formatProtoDuration } from './proto-duration';
import { messageType, TypeUrl, type ProtoJson, type ResourceTypeUrl } from './protos';
import { encodeMessage, writeMessage, type WireWriter } from './wire';

export { METADATA_NAMESPACE };
/** Name of the Envoy listener and of the RouteConfiguration it reads over RDS. */
export const LISTENER_NAME = 'ingress_http';
export const ROUTE_CONFIG_NAME = 'ingress_http';

export interface TranslateOptions {
  /** Address Envoy's HTTP listener binds (default 0.0.0.0). */
  listenerAddress?: string;
  /** Port of Envoy's HTTP listener (default 8080). */
  listenerPort?: number;
}

/** One Envoy resource, as the serving path writes it and as people read it. */
export interface EnvoyResource {
  readonly typeUrl: ResourceTypeUrl;
  readonly name: string;
  /** Writes the message's fields (no tag, no length). */
  write(w: WireWriter): void;
  /** The resource in proto3 JSON with its `@type`; built on each call, nothing kept. */
  toJson(): ProtoJson;
}

/** The translator's output: every resource, in name order per type. */
export interface EnvoyConfig {
  clusters: EnvoyResource[];
  clusterLoadAssignments: EnvoyResource[];
  listeners: EnvoyResource[];
  routeConfigurations: EnvoyResource[];
}

/** The same resources in proto3 JSON. */
export interface EnvoyResources {
  clusters: ProtoJson[];
  clusterLoadAssignments: ProtoJson[];
  listeners: ProtoJson[];
  routeConfigurations: ProtoJson[];
}

export function configJson(config: EnvoyConfig): EnvoyResources {
  const json = (list: EnvoyResource[]) => list.map((r) => r.toJson());
  return {
    clusters: json(config.clusters),
    clusterLoadAssignments: json(config.clusterLoadAssignments),
    listeners: json(config.listeners),
    routeConfigurations: json(config.routeConfigurations),
  };
}

/** A resource given as proto3 JSON (the listener, tests' hand-made resources), encoded generically. */
export function jsonResource(json: ProtoJson): EnvoyResource {
  const { '@type': typeUrl, ...fields } = json;
  if (!Object.values(TypeUrl).includes(typeUrl as ResourceTypeUrl)) throw new Error(`"@type" ${String(typeUrl)} is not a resource type this server serves`);
  return {
    typeUrl: typeUrl as ResourceTypeUrl,
    name: String(json.name ?? json.cluster_name),
    write: (w) => writeMessage(w, messageType(typeUrl as string), fields),
    toJson: () => json,
  };
}

/** Deep-frozen: shared by every resource rendered to JSON, so no reader of one can change them for all. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const ADS_CONFIG_SOURCE = deepFreeze({ ads: {}, resource_api_version: 'V3' });
// Eject a host after consecutive gateway errors (502/503/504: the host, not the
// workload, failing); a workload's own 500s say nothing about the host, so the
// 5xx and success-rate checks (Envoy enforces the latter unless told 0) are off.
// gRPC's xDS client also crashes running a success-rate check it got no
// minimum_hosts for (grpc-js 1.14).
const OUTLIER_DETECTION = deepFreeze({
  consecutive_5xx: 5,
  enforcing_consecutive_5xx: 0,
  enforcing_success_rate: 0,
  consecutive_gateway_failure: 5,
  enforcing_consecutive_gateway_failure: 100,
  interval: '10s',
  base_ejection_time: '30s',
  max_ejection_percent: 50,
});
/** What every cluster has besides its name. */
const clusterSharedFields = (): ProtoJson => ({
  type: 'EDS',
  eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE },
  connect_timeout: '5s',
  outlier_detection: OUTLIER_DETECTION,
});
const ROUTER_FILTER = {
  name: 'envoy.filters.http.router',
  typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
};

/** One JSON access log line per request, naming the trigger that served it. */
const ACCESS_LOG = {
  name: 'envoy.access_loggers.stdout',
  typed_config: {
    '@type': 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog',
    log_format: {
      json_format: {
        start_time: '%START_TIME%',
        method: '%REQ(:METHOD)%',
        authority: '%REQ(:AUTHORITY)%',
        path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
        response_code: '%RESPONSE_CODE%',
        response_flags: '%RESPONSE_FLAGS%',
        duration_ms: '%DURATION%',
        upstream_host: '%UPSTREAM_HOST%',
        trigger: `%METADATA(ROUTE:${METADATA_NAMESPACE}:${METADATA_TRIGGER_KEY})%`,
      },
    },
  },
};

/** Envoy's connection manager: routes from the `ingress_http` RouteConfiguration over ADS. */
function httpConnectionManager(): ProtoJson {
  return {
    '@type': HCM_TYPE,
    stat_prefix: LISTENER_NAME,
    rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: ROUTE_CONFIG_NAME },
    http_filters: [ROUTER_FILTER],
    access_log: [ACCESS_LOG],
  };
}

const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/**
 * The Listener a proxyless gRPC client dialing `xds:///<name>` gets: an
 * `api_listener` whose connection manager carries, inline, the virtual host that
 * routes `name` in Envoy's table (the same routes). Only that virtual host: the
 * whole table can pass gRPC's 4 MiB message limit (about 12k triggers of two paths each), and a
 * client uses one virtual host anyway.
 */
export function apiListener(name: string, virtualHost: VirtualHostSource | undefined): ProtoJson {
  const routeConfig: ProtoJson = { name, ignore_port_in_host_matching: true };
  if (virtualHost) routeConfig.virtual_hosts = [virtualHost.toJson()];
  return {
    '@type': TypeUrl.Listener,
    name,
    api_listener: { api_listener: { '@type': HCM_TYPE, stat_prefix: name, route_config: routeConfig, http_filters: [ROUTER_FILTER] } },
  };
}

/** A virtual host as the API listener needs it: where it applies, and its JSON. */
export interface VirtualHostSource {
  readonly host: string;
  toJson(): ProtoJson;
}

/**
 * A lookup of the virtual host Envoy would pick in a route table for a host: the
 * exact domain, else the longest `*.suffix` wildcard (port and case ignored).
 * Any RouteConfiguration resource will do; the translator's own is read without
 * rendering it.
 */
export function virtualHostLookup(table: EnvoyResource | undefined): (host: string) => VirtualHostSource | undefined {
  const byDomain = new Map<string, VirtualHostSource>();
  if (table instanceof RouteTable) {
    for (const vh of table.virtualHosts) byDomain.set(vh.host, vh);
  } else if (table) {
    for (const vh of (table.toJson().virtual_hosts as ProtoJson[] | undefined) ?? []) {
      for (const domain of vh.domains as string[]) byDomain.set(domain, { host: domain, toJson: () => vh });
    }
  }
  return (host) => {
    const wanted = host.toLowerCase().replace(/:\d+$/, '');
    const exact = byDomain.get(wanted);
    if (exact) return exact;
    for (let dot = wanted.indexOf('.'); dot >= 0; dot = wanted.indexOf('.', dot + 1)) {
      const wildcard = byDomain.get(`*${wanted.slice(dot)}`);
      if (wildcard) return wildcard;
    }
    return undefined;
  };
}

/** The RouteConfiguration Envoy's listener reads: one virtual host per distinct host. */
export class RouteTable implements EnvoyResource {
  readonly typeUrl = TypeUrl.RouteConfiguration;
  readonly name = ROUTE_CONFIG_NAME;

  constructor(readonly virtualHosts: readonly EnvoyVirtualHost[]) {}

  /** The fields other than `virtual_hosts` (a snapshot frames cached virtual hosts after them). */
  writeHead(w: WireWriter): void {
    writeRouteTableHead(w, this.name);
  }

  write(w: WireWriter): void {
    this.writeHead(w);
    for (const vh of this.virtualHosts) writeVirtualHostEntry(w, vh);
  }

  toJson(): ProtoJson {
    const table: ProtoJson = { '@type': this.typeUrl, name: this.name, ignore_port_in_host_matching: true };
    if (this.virtualHosts.length > 0) table.virtual_hosts = this.virtualHosts.map((vh) => vh.toJson());
    return table;
  }
}

/**
 * A virtual host of the route table: one host's routes, in precedence order.
 * Named `<table>/<host>`, its VHDS resource name, so that the bytes are the same
 * inline in the table (state of the world) and on their own (delta; Envoy keys
 * VHDS virtual hosts by name, so removals only work if the two agree).
 */
export class EnvoyVirtualHost {
  readonly name: string;

  constructor(private readonly model: VirtualHostModel) {
    this.name = virtualHostResourceName(model.host);
  }

  get host(): string {
    return this.model.host;
  }

  write(w: WireWriter): void {
    writeVirtualHost(w, this.name, this.model.host, this.model.wildcard ? wildcardAuthorityRegex(this.model.host) : undefined, this.model, envoyRoutes);
  }

  toJson(): ProtoJson {
    const vh = this.model;
    // Envoy's `*.x` matches any number of labels; Kubernetes allows exactly one.
    const authority = vh.wildcard ? [{ name: ':authority', string_match: { safe_regex: { regex: wildcardAuthorityRegex(vh.host) } } }] : undefined;
    const routes: ProtoJson[] = [];
    envoyRoutes(vh, {
      route(kind, path, trigger, cluster) {
        const match: ProtoJson = kind === 'exact' ? { path } : { prefix: kind === 'below' ? `${path}/` : path };
        if (authority) match.headers = authority;
        routes.push({ match, route: routeAction(trigger, cluster), metadata: { filter_metadata: { [METADATA_NAMESPACE]: { [METADATA_TRIGGER_KEY]: trigger.key } } } });
      },
    });
    return { name: this.name, domains: [vh.host], routes };
  }
}

/** VHDS names a virtual host `<route configuration name>/<host>`. */
export function virtualHostResourceName(host: string): string {
  return `${ROUTE_CONFIG_NAME}/${host}`;
}

/** A virtual host as a resource of its own (VHDS). */
export function virtualHostResource(vh: EnvoyVirtualHost): EnvoyResource {
  return { typeUrl: TypeUrl.VirtualHost, name: vh.name, write: (w) => vh.write(w), toJson: () => ({ '@type': TypeUrl.VirtualHost, ...vh.toJson() }) };
}

/**
 * The route table as delta xDS clients get it: no virtual hosts, which Envoy
 * fetches one by one over VHDS (on the same ADS stream), so a changed trigger
 * sends one virtual host instead of the whole table. It never changes, so Envoy
 * never drops the virtual hosts it holds (a RouteConfiguration update clears them).
 */
export const VHDS_ROUTE_TABLE: EnvoyResource = jsonResource({
  '@type': TypeUrl.RouteConfiguration,
  name: ROUTE_CONFIG_NAME,
  ignore_port_in_host_matching: true,
  vhds: { config_source: ADS_CONFIG_SOURCE },
});

/**
 * The virtual host every VHDS client is served besides the triggers' (`*`: only
 * hosts no trigger routes reach it, with the 404 Envoy would answer anyway). With
 * no triggers Envoy would otherwise receive no virtual host at all, and its VHDS
 * subscription, which holds the route table and so the listener, would wait out
 * its initial fetch timeout (15 s): Envoy hands a delta update only to the watches
 * it names a resource for, so an empty answer does not release it.
 */
export const DEFAULT_VIRTUAL_HOST: EnvoyResource = jsonResource({
  '@type': TypeUrl.VirtualHost,
  name: virtualHostResourceName('*'),
  domains: ['*'],
  routes: [{ match: { prefix: '/' }, direct_response: { status: 404, body: { inline_string: 'no HTTPTrigger routes this host\n' } } }],
});

/**
 * The route action: the trigger's cluster and timeout, and the Host rewritten to
 * the trigger's identity, which every endpoint of that cluster carries as its
 * hostname (Envoy's `auto_host_rewrite`; one short flag per route instead of
 * the name, which keeps a 10k-trigger table under gRPC's 4 MiB). The original
 * host goes along in `x-forwarded-host`.
 */
function routeAction(trigger: ValidTrigger, cluster: string): ProtoJson {
  return { cluster, auto_host_rewrite: true, timeout: durationJson(trigger.timeout), append_x_forwarded_host: true };
}

/** clusterSharedFields as bytes: encoded once, copied into every cluster. */
let clusterSharedEncoding: Uint8Array | undefined;

class EdsCluster implements EnvoyResource {
  readonly typeUrl = TypeUrl.Cluster;

  constructor(readonly name: string) {}

  write(w: WireWriter): void {
    writeCluster(w, this.name, (clusterSharedEncoding ??= encodeMessage(messageType(TypeUrl.Cluster), clusterSharedFields())));
  }

  toJson(): ProtoJson {
    return { '@type': this.typeUrl, name: this.name, ...clusterSharedFields() };
  }
}

/**
 * A cluster's endpoints: one locality with a weight (gRPC ignores localities
 * without one, and one locality keeps its round robin strict). Each endpoint is
 * named with the trigger's identity, for `auto_host_rewrite`.
 */
class EndpointAssignment implements EnvoyResource {
  readonly typeUrl = TypeUrl.ClusterLoadAssignment;

  constructor(
    readonly name: string,
    readonly endpoints: readonly Endpoint[],
    private readonly hostname: string,
  ) {}

  write(w: WireWriter): void {
    writeAssignment(w, this.name, this.endpoints, this.hostname);
  }

  toJson(): ProtoJson {
    const assignment: ProtoJson = { '@type': this.typeUrl, cluster_name: this.name };
    if (this.endpoints.length > 0) {
      assignment.endpoints = [
        {
          locality: {},
          lb_endpoints: this.endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } }, hostname: this.hostname } })),
          load_balancing_weight: 1,
        },
      ];
    }
    return assignment;
  }
}

export class Translator {
  private listener?: EnvoyResource;
  /**
   * Last run's model and output, index for index: what a new model reuses. Found
   * by position (edits in place, and nothing at all on a first build); by a map
   * made only when positions shifted.
   */
  private last?: { model: RoutingModel; virtualHosts: EnvoyVirtualHost[]; routeTable: RouteTable; clusters: EnvoyResource[]; clusterLoadAssignments: EndpointAssignment[] };

  constructor(private readonly options: TranslateOptions = {}) {
    const port = options.listenerPort;
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new Error(`listener port ${port} is not a TCP port: use 1-65535 (Envoy would reject the listener)`);
    }
    if (options.listenerAddress !== undefined && options.listenerAddress.trim() === '') {
      throw new Error('listener address is empty: use an IP address such as 0.0.0.0');
    }
  }

  translate(model: RoutingModel): EnvoyConfig {
    const last = this.last;
    const clusterLists = this.buildClusters(model);
    let lastByModel: Map<VirtualHostModel, EnvoyVirtualHost> | undefined;
    const virtualHosts = model.virtualHosts.map((vh, i) => {
      const before = last?.model.virtualHosts[i];
      if (before === vh) return last!.virtualHosts[i];
      // Another model for the same host is a change; another host means positions shifted.
      if (!last || before?.host === vh.host) return new EnvoyVirtualHost(vh);
      lastByModel ??= new Map(last.model.virtualHosts.map((m, j) => [m, last.virtualHosts[j]]));
      return lastByModel.get(vh) ?? new EnvoyVirtualHost(vh);
    });
    // The same virtual hosts give the same table object, so an endpoint-only change
    // does not make the snapshot re-frame and re-hash megabytes of unchanged routes.
    const sameTable = last && last.virtualHosts.length === virtualHosts.length && virtualHosts.every((vh, i) => vh === last.virtualHosts[i]);
    const routeTable = sameTable ? last.routeTable : new RouteTable(virtualHosts);
    this.last = { model, virtualHosts, routeTable, ...clusterLists };
    return {
      ...clusterLists,
      listeners: [(this.listener ??= jsonResource(listener(this.options)))],
      routeConfigurations: [routeTable],
    };
  }

  /** A cluster depends on its name only, an assignment on its endpoints too: each is reused while those are the same. */
  private buildClusters(model: RoutingModel): { clusters: EnvoyResource[]; clusterLoadAssignments: EndpointAssignment[] } {
    const last = this.last;
    const clusters: EnvoyResource[] = new Array(model.clusters.length);
    const clusterLoadAssignments: EndpointAssignment[] = new Array(model.clusters.length);
    let lastByName: Map<string, number> | undefined;
    model.clusters.forEach((c, i) => {
      let at = -1;
      if (last) {
        if (last.model.clusters[i] === c) {
          clusters[i] = last.clusters[i];
          clusterLoadAssignments[i] = last.clusterLoadAssignments[i];
          return;
        }
        if (last.model.clusters[i]?.name === c.name) at = i;
        else at = (lastByName ??= new Map(last.model.clusters.map((m, j) => [m.name, j]))).get(c.name) ?? -1;
      }
      const assignment = at >= 0 ? last!.clusterLoadAssignments[at] : undefined;
      clusters[i] = at >= 0 ? last!.clusters[at] : new EdsCluster(c.name);
      clusterLoadAssignments[i] = assignment && sameEndpoints(assignment.endpoints, c.endpoints, 'addresses') ? assignment : new EndpointAssignment(c.name, c.endpoints, c.trigger.upstreamHost);
    });
    return { clusters, clusterLoadAssignments };
  }
}

function listener(options: TranslateOptions): ProtoJson {
  return {
    '@type': TypeUrl.Listener,
    name: LISTENER_NAME,
    address: { socket_address: { address: options.listenerAddress ?? '0.0.0.0', port_value: options.listenerPort ?? 8080 } },
    filter_chains: [
      { filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager() }] },
    ],
  };
}

/**
 * Envoy's routes for a virtual host, in order. Kubernetes Prefix `/foo`
 * (element-wise) becomes `path: /foo` plus `prefix: /foo/`, a form both Envoy and
 * gRPC's xDS client accept (gRPC NACKs path_separated_prefix); the `path` half
 * is left out when an Exact route on the same path already precedes it.
 */
function envoyRoutes(vh: VirtualHostModel, sink: RouteSink): void {
  const routes = vh.routes;
  // Routes are sorted Exact first.
  let exactCount = 0;
  while (exactCount < routes.length && routes[exactCount].match.type === 'Exact') exactCount++;
  const exactPaths = exactCount > 8 ? new Set(routes.slice(0, exactCount).map((r) => r.match.path)) : undefined;
  for (const r of routes) {
    const { type, path } = r.match;
    if (type === 'Exact') sink.route('exact', path, r.trigger, r.cluster);
    else if (path === '/') sink.route('prefix', '/', r.trigger, r.cluster);
    else {
      if (!(exactPaths ? exactPaths.has(path) : hasExactRoute(routes, exactCount, path))) sink.route('exact', path, r.trigger, r.cluster);
      sink.route('below', path, r.trigger, r.cluster);
    }
  }
}

/** Whether one of the first `exactCount` routes (the Exact ones) is for `path`. */
function hasExactRoute(routes: readonly RouteModel[], exactCount: number, path: string): boolean {
  for (let i = 0; i < exactCount; i++) if (routes[i].match.path === path) return true;
  return false;
}

function wildcardAuthorityRegex(host: string): string {
  return `(?i)^[^.:]+${host.slice(1).replace(/\./g, '\\.')}(:[0-9]+)?$`;
}

function durationJson(d: Duration): string {
  return formatProtoDuration(d.seconds, d.nanos);
}
