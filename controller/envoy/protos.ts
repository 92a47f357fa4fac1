/**
 * The Envoy v3 API as protobufjs reflection, loaded from the `.proto` files that
 * @grpc/grpc-js-xds ships (no vendored copies), with the proto3 JSON mapping for
 * the well-known types, so that resources can be written, printed and encoded in
 * the same form Envoy's `/config_dump` shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { packageRoot } from '../package-root';
import { formatProtoDuration } from './proto-duration';
import { encodeMessage } from './wire';

/** In the controller image: a copy of exactly the .proto files loaded (written by `npm run build:image`), relative to the package root. */
export const IMAGE_PROTOS_DIR = 'protos';

/**
 * Where imports are looked up, in order: the image's copy, else the grpc-js-xds `deps/` folders,
 * then protobufjs's well-known types.
 */
export function protoIncludeDirs(): string[] {
  const copied = path.join(packageRoot(), IMAGE_PROTOS_DIR);
  if (fs.existsSync(copied)) return [copied];
  const xds = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const deps = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xds, 'deps', d));
  return [...deps, path.dirname(require.resolve('protobufjs/package.json'))];
}

const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  // The bootstrap's xDS cluster over mTLS.
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
];

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Type URLs of the resources this controller serves, in make-before-break order. */
export const TypeUrl = {
  Cluster: `${TYPE_URL_PREFIX}envoy.config.cluster.v3.Cluster`,
  ClusterLoadAssignment: `${TYPE_URL_PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  Listener: `${TYPE_URL_PREFIX}envoy.config.listener.v3.Listener`,
  RouteConfiguration: `${TYPE_URL_PREFIX}envoy.config.route.v3.RouteConfiguration`,
  /** Virtual hosts of a route table one by one (VHDS, delta xDS only). */
  VirtualHost: `${TYPE_URL_PREFIX}envoy.config.route.v3.VirtualHost`,
} as const;
export type ResourceTypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/** A JSON object in the proto3 JSON mapping with `.proto` field names. */
export type ProtoJson = { [field: string]: unknown };

let cachedRoot: protobuf.Root | undefined;

/** The loaded Envoy API (parsed once per process: it takes ~150 ms). */
export function envoyRoot(): protobuf.Root {
  if (cachedRoot) return cachedRoot;
  installWellKnownTypeJsonMapping();
  const root = new protobuf.Root();
  const includeDirs = protoIncludeDirs();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target) && fs.existsSync(target)) return target;
    for (const dir of includeDirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: true });
  root.resolveAll();
  cachedRoot = root;
  return root;
}

const types = new Map<string, protobuf.Type>();

/** The message type for a type URL or a fully qualified name. */
export function messageType(typeUrlOrName: string): protobuf.Type {
  let type = types.get(typeUrlOrName);
  if (!type) {
    const name = typeUrlOrName.startsWith(TYPE_URL_PREFIX) ? typeUrlOrName.slice(TYPE_URL_PREFIX.length) : typeUrlOrName;
    types.set(typeUrlOrName, (type = envoyRoot().lookupType(name)));
  }
  return type;
}

/** Encodes a message given in the proto3 JSON mapping; an unknown field throws with its path. */
export function encodeJson(type: protobuf.Type, json: ProtoJson): Uint8Array {
  return encodeMessage(type, json);
}

const WRAPPER_TYPES = ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map(
  (s) => `.google.protobuf.${s}Value`,
);

/** Options that make `toObject` print the proto3 JSON mapping (defaults omitted, like `/config_dump`). */
export const PROTO3_JSON_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  arrays: false,
  objects: false,
  oneofs: false,
  json: true,
};

/** Decodes bytes into the proto3 JSON mapping. */
export function decodeToJson(type: protobuf.Type, bytes: Uint8Array): ProtoJson {
  return type.toObject(type.decode(bytes), PROTO3_JSON_OPTIONS) as ProtoJson;
}

/**
 * protobufjs's own `toObject` prints Duration, Struct and the wrapper types in
 * their message shape; the proto3 JSON mapping (what Envoy prints) uses `"15s"`,
 * plain JSON objects and bare scalars. protobufjs's `wrappers` hook is the place
 * for that; it must be installed before any type is set up.
 */
function installWellKnownTypeJsonMapping(): void {
  const wrappers = protobuf.wrappers as Record<string, protobuf.IWrapper>;
  // protobufjs requires both halves; input is encoded by wire.ts instead.
  const fromObject = function (this: protobuf.Type, object: Record<string, unknown>) {
    return this.fromObject(object);
  };
  wrappers['.google.protobuf.Duration'] = {
    fromObject,
    toObject(this: protobuf.Type, message: protobuf.Message, options?: protobuf.IConversionOptions) {
      if (!options?.json) return this.toObject(message, options);
      const m = message as unknown as { seconds?: number | { toString(): string }; nanos?: number };
      return formatProtoDuration(Number(m.seconds ?? 0), m.nanos ?? 0);
    },
  } as protobuf.IWrapper;
  wrappers['.google.protobuf.Struct'] = {
    fromObject,
    toObject(this: protobuf.Type, message: protobuf.Message, options?: protobuf.IConversionOptions) {
      if (!options?.json) return this.toObject(message, options);
      const fields = (message as unknown as { fields?: Record<string, unknown> }).fields ?? {};
      return mapValues(fields, valueToJson);
    },
  } as protobuf.IWrapper;
  wrappers['.google.protobuf.Value'] = {
    fromObject,
    toObject(this: protobuf.Type, message: protobuf.Message, options?: protobuf.IConversionOptions) {
      if (!options?.json) return this.toObject(message, options);
      return valueToJson(message);
    },
  } as protobuf.IWrapper;
  for (const wrapper of WRAPPER_TYPES) {
    wrappers[wrapper] = {
      fromObject,
      toObject(this: protobuf.Type, message: protobuf.Message, options?: protobuf.IConversionOptions) {
        if (!options?.json) return this.toObject(message, options);
        return (this.toObject(message, { ...options, defaults: true }) as { value: unknown }).value;
      },
    } as protobuf.IWrapper;
  }
}

function mapValues<T>(object: Record<string, unknown>, f: (v: unknown) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(object)) out[k] = f(v);
  return out;
}

/** protobufjs defines the well-known types itself, with camelCase field names. */
function valueToJson(message: unknown): unknown {
  const v = message as {
    stringValue?: string;
    numberValue?: number;
    boolValue?: boolean;
    structValue?: { fields?: Record<string, unknown> };
    listValue?: { values?: unknown[] };
  };
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.numberValue !== undefined) return v.numberValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.structValue !== undefined) return mapValues(v.structValue.fields ?? {}, valueToJson);
  if (v.listValue !== undefined) return (v.listValue.values ?? []).map(valueToJson);
  return null;
}
