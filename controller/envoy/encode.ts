/**
 * Wire encoders for the messages there are thousands of — routes, clusters and
 * endpoint assignments — written straight from the routing model into protobuf
 * bytes. They produce the same messages translate.ts renders as proto3 JSON
 * (tests decode every served resource and compare it with that JSON); building
 * the JSON first and walking it with the generic encoder costs several times the
 * time and garbage for a 10k-trigger snapshot.
 *
 * Field numbers are looked up by name in the Envoy protos once, so a misspelt
 * field fails at the first use instead of writing a wrong tag.
 */
import type { Duration } from '../api/duration';
import type { ValidTrigger } from '../api/validate';
import type { Endpoint } from '../resolve/endpoints';
import { messageType } from './protos';
import { WireWriter } from './wire';

const VARINT = 0;
const LEN = 2;
/** Field numbers of a protobuf map entry's key and value. */
const KEY = 1;
const VALUE = 2;
/** Field number of `value` in the google.protobuf wrappers (BoolValue, UInt32Value). */
const WRAPPED = 1;

function numbers<K extends string>(type: string, names: readonly K[]): Record<K, number> {
  const fields = messageType(type).fields;
  const out = {} as Record<K, number>;
  for (const name of names) {
    // protobufjs's own well-known types (google.protobuf.*) have camelCase field names.
    const field = fields[name] ?? fields[name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())];
    if (!field) throw new Error(`${type} has no field "${name}"`);
    out[name] = field.id;
  }
  return out;
}

function loadFieldNumbers() {
  return {
    routeConfiguration: numbers('envoy.config.route.v3.RouteConfiguration', ['name', 'virtual_hosts', 'ignore_port_in_host_matching']),
    virtualHost: numbers('envoy.config.route.v3.VirtualHost', ['name', 'domains', 'routes']),
    route: numbers('envoy.config.route.v3.Route', ['match', 'route', 'metadata']),
    routeMatch: numbers('envoy.config.route.v3.RouteMatch', ['prefix', 'path', 'headers']),
    headerMatcher: numbers('envoy.config.route.v3.HeaderMatcher', ['name', 'string_match']),
    stringMatcher: numbers('envoy.type.matcher.v3.StringMatcher', ['safe_regex']),
    regexMatcher: numbers('envoy.type.matcher.v3.RegexMatcher', ['regex']),
    routeAction: numbers('envoy.config.route.v3.RouteAction', ['cluster', 'auto_host_rewrite', 'timeout', 'append_x_forwarded_host']),
    duration: numbers('google.protobuf.Duration', ['seconds', 'nanos']),
    metadata: numbers('envoy.config.core.v3.Metadata', ['filter_metadata']),
    struct: numbers('google.protobuf.Struct', ['fields']),
    value: numbers('google.protobuf.Value', ['string_value']),
    cluster: numbers('envoy.config.cluster.v3.Cluster', ['name']),
    assignment: numbers('envoy.config.endpoint.v3.ClusterLoadAssignment', ['cluster_name', 'endpoints']),
    localityEndpoints: numbers('envoy.config.endpoint.v3.LocalityLbEndpoints', ['locality', 'lb_endpoints', 'load_balancing_weight']),
    lbEndpoint: numbers('envoy.config.endpoint.v3.LbEndpoint', ['endpoint']),
    endpoint: numbers('envoy.config.endpoint.v3.Endpoint', ['address', 'hostname']),
    address: numbers('envoy.config.core.v3.Address', ['socket_address']),
    socketAddress: numbers('envoy.config.core.v3.SocketAddress', ['address', 'port_value']),
  };
}

let fieldNumbers: ReturnType<typeof loadFieldNumbers> | undefined;
const F = () => (fieldNumbers ??= loadFieldNumbers());

/** Scratch space for parts repeated within one message (a trigger's action and metadata, a wildcard matcher, an endpoint hostname). */
const routeTail = new WireWriter(512);
const headerPart = new WireWriter(256);
const hostnameField = new WireWriter(320);

/**
 * How a route matches its path: `exact` (RouteMatch `path`), `prefix` (`prefix`
 * as given) or `below` (`prefix` with "/" added: the second half of a Kubernetes
 * Prefix, written apart so that no joined string is made per route).
 */
export type PathMatch = 'exact' | 'prefix' | 'below';

/** RouteConfiguration fields other than `virtual_hosts`. */
export function writeRouteTableHead(w: WireWriter, name: string): void {
  const f = F().routeConfiguration;
  w.tag(f.name, LEN);
  w.string(name);
  w.tag(f.ignore_port_in_host_matching, VARINT);
  w.varint(1);
}

/** Writes a virtual host as an entry of RouteConfiguration.virtual_hosts: field tag, length, message. */
export function writeVirtualHostEntry(w: WireWriter, virtualHost: { write(w: WireWriter): void }): void {
  w.tag(F().routeConfiguration.virtual_hosts, LEN);
  const mark = w.beginLength();
  virtualHost.write(w);
  w.endLength(mark);
}

/** Where the message starts in a length-delimited field as framed (field tag, length varint, message), from `start`. */
export function framedMessageStart(bytes: Uint8Array, start: number): number {
  let at = start + 1; // our field numbers are below 16: a one-byte tag
  while (bytes[at] >= 0x80) at++;
  return at + 1;
}

/** Receives a virtual host's Envoy routes in order. */
export interface RouteSink {
  route(match: PathMatch, path: string, trigger: ValidTrigger, cluster: string): void;
}

/** Writes routes as VirtualHost.routes fields; one instance, reset per virtual host (no closures per virtual host). */
class RouteFieldWriter implements RouteSink {
  w!: WireWriter;
  wildcard = false;
  private tailFor?: ValidTrigger;

  reset(w: WireWriter, wildcard: boolean): void {
    this.w = w;
    this.wildcard = wildcard;
    this.tailFor = undefined;
  }

  route(match: PathMatch, path: string, trigger: ValidTrigger, cluster: string): void {
    const f = F();
    const w = this.w;
    // Routes of one trigger share their action and metadata: encode those once.
    if (trigger !== this.tailFor) {
      routeTail.reset();
      writeActionAndMetadata(routeTail, trigger, cluster);
      this.tailFor = trigger;
    }
    w.tag(f.virtualHost.routes, LEN);
    const route = w.beginLength();
    w.tag(f.route.match, LEN);
    const matchStart = w.beginLength();
    w.tag(match === 'exact' ? f.routeMatch.path : f.routeMatch.prefix, LEN);
    if (match === 'below') w.stringThenSlash(path);
    else w.string(path);
    if (this.wildcard) w.copyFrom(headerPart);
    w.endLength(matchStart);
    w.copyFrom(routeTail);
    w.endLength(route);
  }
}

const routeFields = new RouteFieldWriter();

/**
 * Writes a VirtualHost named `name` for domain `host`, with the routes
 * `routesOf(model, sink)` gives; `wildcardRegex`, when given, restricts every
 * route to matching `:authority`s.
 */
export function writeVirtualHost<M>(
  w: WireWriter,
  name: string,
  host: string,
  wildcardRegex: string | undefined,
  model: M,
  routesOf: (model: M, sink: RouteSink) => void,
): void {
  const f = F();
  w.tag(f.virtualHost.name, LEN);
  w.string(name);
  w.tag(f.virtualHost.domains, LEN);
  w.string(host);
  if (wildcardRegex !== undefined) writeAuthorityMatcher(wildcardRegex);
  routeFields.reset(w, wildcardRegex !== undefined);
  routesOf(model, routeFields);
}

/** RouteMatch.headers: `:authority` must match the regex (written once per virtual host into `headerPart`). */
function writeAuthorityMatcher(regex: string): void {
  const f = F();
  const w = headerPart;
  w.reset();
  w.tag(f.routeMatch.headers, LEN);
  const header = w.beginLength();
  w.tag(f.headerMatcher.name, LEN);
  w.string(':authority');
  w.tag(f.headerMatcher.string_match, LEN);
  const stringMatch = w.beginLength();
  w.tag(f.stringMatcher.safe_regex, LEN);
  const safeRegex = w.beginLength();
  w.tag(f.regexMatcher.regex, LEN);
  w.string(regex);
  w.endLength(safeRegex);
  w.endLength(stringMatch);
  w.endLength(header);
}

/** Route.route (the action) and Route.metadata, as fields. */
function writeActionAndMetadata(w: WireWriter, trigger: ValidTrigger, cluster: string): void {
  const f = F();
  w.tag(f.route.route, LEN);
  const action = w.beginLength();
  w.tag(f.routeAction.cluster, LEN);
  w.string(cluster);
  w.tag(f.routeAction.auto_host_rewrite, LEN);
  w.varint(2);
  w.tag(WRAPPED, VARINT);
  w.varint(1);
  w.tag(f.routeAction.timeout, LEN);
  const timeout = w.beginLength();
  writeDuration(w, trigger.timeout);
  w.endLength(timeout);
  w.tag(f.routeAction.append_x_forwarded_host, VARINT);
  w.varint(1);
  w.endLength(action);

  w.tag(f.route.metadata, LEN);
  const metadata = w.beginLength();
  const [namespaceEntry, struct] = beginMapEntry(w, f.metadata.filter_metadata, METADATA_NAMESPACE);
  const [triggerEntry, value] = beginMapEntry(w, f.struct.fields, METADATA_TRIGGER_KEY);
  w.tag(f.value.string_value, LEN);
  w.string(trigger.key);
  w.endLength(value);
  w.endLength(triggerEntry);
  w.endLength(struct);
  w.endLength(namespaceEntry);
  w.endLength(metadata);
}

/** Starts an entry of a map<string, message> field: returns the marks of the entry and of its value (close the value first). */
function beginMapEntry(w: WireWriter, field: number, key: string): [entry: number, value: number] {
  w.tag(field, LEN);
  const entry = w.beginLength();
  w.tag(KEY, LEN);
  w.string(key);
  w.tag(VALUE, LEN);
  return [entry, w.beginLength()];
}

function writeDuration(w: WireWriter, d: Duration): void {
  const f = F().duration;
  if (d.seconds) {
    w.tag(f.seconds, VARINT);
    w.varint(d.seconds);
  }
  if (d.nanos) {
    w.tag(f.nanos, VARINT);
    w.varint(d.nanos);
  }
}

/** The filter metadata namespace every route carries (`…["control.cosmonic.io"].trigger`). */
export const METADATA_NAMESPACE = 'control.cosmonic.io';
export const METADATA_TRIGGER_KEY = 'trigger';

/** Writes an EDS Cluster: its name, then the already encoded fields every cluster shares. */
export function writeCluster(w: WireWriter, name: string, sharedFields: Uint8Array): void {
  w.tag(F().cluster.name, LEN);
  w.string(name);
  w.raw(sharedFields);
}

/**
 * Writes a ClusterLoadAssignment: one locality with weight 1 holding every
 * endpoint, each named `hostname` (what `auto_host_rewrite` puts in Host).
 */
export function writeAssignment(w: WireWriter, clusterName: string, endpoints: readonly Endpoint[], hostname: string): void {
  const f = F();
  w.tag(f.assignment.cluster_name, LEN);
  w.string(clusterName);
  if (endpoints.length === 0) return;
  // Every endpoint carries the same hostname: encode it once.
  hostnameField.reset();
  hostnameField.tag(f.endpoint.hostname, LEN);
  hostnameField.string(hostname);
  w.tag(f.assignment.endpoints, LEN);
  const locality = w.beginLength();
  w.tag(f.localityEndpoints.locality, LEN);
  w.varint(0);
  for (const e of endpoints) {
    w.tag(f.localityEndpoints.lb_endpoints, LEN);
    const lb = w.beginLength();
    w.tag(f.lbEndpoint.endpoint, LEN);
    const endpoint = w.beginLength();
    w.tag(f.endpoint.address, LEN);
    const address = w.beginLength();
    w.tag(f.address.socket_address, LEN);
    const socket = w.beginLength();
    w.tag(f.socketAddress.address, LEN);
    w.string(e.address);
    w.tag(f.socketAddress.port_value, VARINT);
    w.varint(e.port);
    w.endLength(socket);
    w.endLength(address);
    w.copyFrom(hostnameField);
    w.endLength(endpoint);
    w.endLength(lb);
  }
  w.tag(f.localityEndpoints.load_balancing_weight, LEN);
  w.varint(2);
  w.tag(WRAPPED, VARINT);
  w.varint(1);
  w.endLength(locality);
}
