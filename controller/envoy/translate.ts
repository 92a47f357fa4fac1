/**
 * Translation of the routing model into Envoy v3 resources, in the proto3 JSON
 * mapping with `.proto` field names (what Envoy's /config_dump prints). Pure: no
 * I/O, no gRPC, no Kubernetes client. Only non-default values are written, so a
 * resource survives an encode/decode round trip unchanged.
 *
 * A Translator reuses the Envoy object it built for an unchanged model object,
 * so encodings can be cached by identity downstream.
 */
import type { Duration } from '../api/duration';
import type { ClusterModel, RouteModel, RoutingModel, VirtualHostModel } from '../resolve/resolve';
import { formatProtoDuration } from './proto-duration';
import { TypeUrl, type ProtoJson } from './protos';

/** The filter metadata namespace every route carries (`…["control.cosmonic.io"].trigger`). */
export const METADATA_NAMESPACE = 'control.cosmonic.io';
/** Name of the Envoy listener and of the RouteConfiguration it reads over RDS. */
export const LISTENER_NAME = 'ingress_http';
export const ROUTE_CONFIG_NAME = 'ingress_http';

export interface TranslateOptions {
  /** Address Envoy's HTTP listener binds (default 0.0.0.0). */
  listenerAddress?: string;
  /** Port of Envoy's HTTP listener (default 8080). */
  listenerPort?: number;
}

export interface EnvoyResources {
  clusters: ProtoJson[];
  clusterLoadAssignments: ProtoJson[];
  listeners: ProtoJson[];
  routeConfigurations: ProtoJson[];
}

/** Deep-frozen: shared constants are encoded once (see wire.ts) and must never change. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const ADS_CONFIG_SOURCE = deepFreeze({ ads: {}, resource_api_version: 'V3' });
const EDS_CLUSTER_CONFIG = deepFreeze({ eds_config: ADS_CONFIG_SOURCE });
// Eject a host after consecutive gateway errors (502/503/504: the host, not the
// workload, failing); a workload's own 500s say nothing about the host.
const OUTLIER_DETECTION = deepFreeze({
  consecutive_5xx: 5,
  enforcing_consecutive_5xx: 0,
  consecutive_gateway_failure: 5,
  enforcing_consecutive_gateway_failure: 100,
  interval: '10s',
  base_ejection_time: '30s',
  max_ejection_percent: 50,
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
        trigger: `%METADATA(ROUTE:${METADATA_NAMESPACE}:trigger)%`,
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
 * whole table can pass gRPC's 4 MiB message limit (about 10k triggers), and a
 * client uses one virtual host anyway.
 */
export function apiListener(name: string, virtualHost: ProtoJson | undefined): ProtoJson {
  const routeConfig: ProtoJson = { name, ignore_port_in_host_matching: true };
  if (virtualHost) routeConfig.virtual_hosts = [virtualHost];
  return {
    '@type': TypeUrl.Listener,
    name,
    api_listener: { api_listener: { '@type': HCM_TYPE, stat_prefix: name, route_config: routeConfig, http_filters: [ROUTER_FILTER] } },
  };
}

/**
 * A lookup of the virtual host Envoy would pick in a route table for a host: the
 * exact domain, else the longest `*.suffix` wildcard (port and case ignored).
 */
export function virtualHostLookup(routeConfiguration: ProtoJson | undefined): (host: string) => ProtoJson | undefined {
  const byDomain = new Map<string, ProtoJson>();
  for (const vh of (routeConfiguration?.virtual_hosts as ProtoJson[] | undefined) ?? []) {
    for (const domain of vh.domains as string[]) byDomain.set(domain, vh);
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

export class Translator {
  private readonly virtualHosts = new WeakMap<VirtualHostModel, ProtoJson>();
  /** By cluster name: a cluster depends on its name only, an assignment on its endpoints too. */
  private clusters = new Map<string, ClusterResources>();
  private listener?: ProtoJson;
  /** Last run's model and output, for patching when most of the model is the same objects. */
  private last?: { model: RoutingModel; virtualHosts: ProtoJson[]; routeConfiguration: ProtoJson; clusters: ProtoJson[]; clusterLoadAssignments: ProtoJson[] };

  constructor(private readonly options: TranslateOptions = {}) {
    const port = options.listenerPort;
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new Error(`listener port ${port} is not a TCP port: use 1-65535 (Envoy would reject the listener)`);
    }
    if (options.listenerAddress !== undefined && options.listenerAddress.trim() === '') {
      throw new Error('listener address is empty: use an IP address such as 0.0.0.0');
    }
  }

  translate(model: RoutingModel): EnvoyResources {
    const last = this.last;
    const clusterLists = last && last.model.clusters.length === model.clusters.length ? this.patchClusters(last, model) : this.buildClusters(model);
    const virtualHosts = model.virtualHosts.map((vh, i) => {
      if (last && last.model.virtualHosts[i] === vh) return last.virtualHosts[i];
      let built = this.virtualHosts.get(vh);
      if (!built) this.virtualHosts.set(vh, (built = virtualHost(vh)));
      return built;
    });
    // The same virtual hosts give the same table object, so an endpoint-only change
    // does not make the snapshot re-frame and re-hash megabytes of unchanged routes.
    const sameTable = last && last.virtualHosts.length === virtualHosts.length && virtualHosts.every((vh, i) => vh === last.virtualHosts[i]);
    const routeConfiguration = sameTable ? last.routeConfiguration : routeTable(virtualHosts);
    this.last = { model, virtualHosts, routeConfiguration, ...clusterLists };
    return {
      ...clusterLists,
      listeners: [(this.listener ??= listener(this.options))],
      routeConfigurations: [routeConfiguration],
    };
  }

  private buildClusters(model: RoutingModel): { clusters: ProtoJson[]; clusterLoadAssignments: ProtoJson[] } {
    const clusters: ProtoJson[] = [];
    const clusterLoadAssignments: ProtoJson[] = [];
    const previous = this.clusters;
    this.clusters = new Map();
    for (const c of model.clusters) {
      const built = this.clusterResources(c, previous.get(c.name));
      this.clusters.set(c.name, built);
      clusters.push(built.cluster);
      clusterLoadAssignments.push(built.assignment);
    }
    return { clusters, clusterLoadAssignments };
  }

  /** Same clusters in the same order as last time except a few: replace those slots only. */
  private patchClusters(last: NonNullable<Translator['last']>, model: RoutingModel): { clusters: ProtoJson[]; clusterLoadAssignments: ProtoJson[] } {
    for (let i = 0; i < model.clusters.length; i++) {
      if (model.clusters[i] !== last.model.clusters[i] && model.clusters[i].name !== last.model.clusters[i].name) return this.buildClusters(model);
    }
    const clusters = last.clusters.slice();
    const clusterLoadAssignments = last.clusterLoadAssignments.slice();
    model.clusters.forEach((c, i) => {
      if (c === last.model.clusters[i]) return;
      const built = this.clusterResources(c, this.clusters.get(c.name));
      this.clusters.set(c.name, built);
      clusters[i] = built.cluster;
      clusterLoadAssignments[i] = built.assignment;
    });
    return { clusters, clusterLoadAssignments };
  }

  private clusterResources(c: ClusterModel, before?: ClusterResources): ClusterResources {
    return {
      cluster: before?.cluster ?? cluster(c),
      endpoints: c.endpoints,
      assignment: before && sameEndpoints(before.endpoints, c.endpoints) ? before.assignment : clusterLoadAssignment(c),
    };
  }
}

interface ClusterResources {
  cluster: ProtoJson;
  endpoints: ClusterModel['endpoints'];
  assignment: ProtoJson;
}

function routeTable(virtualHosts: ProtoJson[]): ProtoJson {
  const table: ProtoJson = { '@type': TypeUrl.RouteConfiguration, name: ROUTE_CONFIG_NAME, ignore_port_in_host_matching: true };
  if (virtualHosts.length > 0) table.virtual_hosts = virtualHosts;
  return table;
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

function virtualHost(vh: VirtualHostModel): ProtoJson {
  // Routes are sorted Exact first; only an Exact route can make a Prefix route's `path` half redundant.
  const exactPaths = vh.routes[0]?.match.type === 'Exact' ? new Set(vh.routes.filter((r) => r.match.type === 'Exact').map((r) => r.match.path)) : undefined;
  // Envoy's `*.x` matches any number of labels; Kubernetes allows exactly one.
  const authority = vh.wildcard ? [wildcardAuthorityMatcher(vh.host)] : undefined;
  const routes: ProtoJson[] = [];
  // A trigger's action and metadata are built once and shared by its routes (usually one trigger per host).
  let parts: { trigger: RouteModel['trigger']; route: object; metadata: object }[] = [];
  for (const r of vh.routes) {
    let shared = parts.find((p) => p.trigger === r.trigger);
    if (!shared) parts = [...parts, (shared = { trigger: r.trigger, ...routeParts(r) })];
    for (const match of envoyMatches(r, exactPaths)) {
      routes.push({ match: authority ? { ...match, headers: authority } : match, route: shared.route, metadata: shared.metadata });
    }
  }
  return { name: vh.host, domains: [vh.host], routes };
}

/**
 * Kubernetes Prefix `/foo` (element-wise) as `path: /foo` plus `prefix: /foo/`,
 * a form both Envoy and gRPC's xDS client accept (gRPC NACKs
 * path_separated_prefix). The `path` half is left out when an Exact route on the
 * same path already precedes it.
 */
function envoyMatches(r: RouteModel, exactPaths: Set<string> | undefined): ProtoJson[] {
  const { type, path } = r.match;
  if (type === 'Exact') return [{ path }];
  if (path === '/') return [{ prefix: '/' }];
  return exactPaths?.has(path) ? [{ prefix: `${path}/` }] : [{ path }, { prefix: `${path}/` }];
}

function wildcardAuthorityMatcher(host: string): ProtoJson {
  const suffix = host.slice(1).replace(/\./g, '\\.');
  return { name: ':authority', string_match: { safe_regex: { regex: `(?i)^[^.:]+${suffix}(:[0-9]+)?$` } } };
}

/**
 * A trigger's route action and metadata, frozen and shared by all its routes.
 * No route name: with metadata naming the trigger it would only add ~15 bytes
 * to each of tens of thousands of routes (the table must stay under gRPC's 4 MiB).
 */
function routeParts(r: RouteModel): { route: object; metadata: object } {
  const trigger = r.trigger;
  const freeze = Object.freeze;
  return {
    route: freeze({
      cluster: r.cluster,
      host_rewrite_literal: trigger.upstreamHost,
      timeout: durationJson(trigger.timeout),
      append_x_forwarded_host: true,
    }),
    metadata: freeze({ filter_metadata: freeze({ [METADATA_NAMESPACE]: freeze({ trigger: trigger.key }) }) }),
  };
}

function cluster(c: ClusterModel): ProtoJson {
  return {
    '@type': TypeUrl.Cluster,
    name: c.name,
    type: 'EDS',
    eds_cluster_config: EDS_CLUSTER_CONFIG,
    connect_timeout: '5s',
    outlier_detection: OUTLIER_DETECTION,
  };
}

function clusterLoadAssignment(c: ClusterModel): ProtoJson {
  const assignment: ProtoJson = { '@type': TypeUrl.ClusterLoadAssignment, cluster_name: c.name };
  if (c.endpoints.length > 0) {
    // One locality with a weight: gRPC ignores localities without one, and one
    // locality keeps its round robin strict.
    assignment.endpoints = [
      {
        locality: {},
        lb_endpoints: c.endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } } })),
        load_balancing_weight: 1,
      },
    ];
  }
  return assignment;
}

function sameEndpoints(a: ClusterModel['endpoints'], b: ClusterModel['endpoints']): boolean {
  return a === b || (a.length === b.length && a.every((e, i) => e.address === b[i].address && e.port === b[i].port));
}

function durationJson(d: Duration): string {
  return formatProtoDuration(d.seconds, d.nanos);
}
