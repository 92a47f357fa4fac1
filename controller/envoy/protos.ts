/**
 * The Envoy v3 API as protobufjs reflection, loaded from the `.proto` files that
 * @grpc/grpc-js-xds ships (no vendored copies), with the proto3 JSON mapping for
 * the well-known types, so that resources can be written, printed and encoded in
 * the same form Envoy's `/config_dump` shows.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';

const XDS_PACKAGE_ROOT = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const PROTOBUFJS_ROOT = path.dirname(require.resolve('protobufjs/package.json'));

/** Where imports are looked up, in order (the grpc-js-xds `deps/` folders, then protobufjs's well-known types). */
export const PROTO_INCLUDE_DIRS = [
  path.join(XDS_PACKAGE_ROOT, 'deps/envoy-api'),
  path.join(XDS_PACKAGE_ROOT, 'deps/xds'),
  path.join(XDS_PACKAGE_ROOT, 'deps/googleapis'),
  path.join(XDS_PACKAGE_ROOT, 'deps/protoc-gen-validate'),
  PROTOBUFJS_ROOT,
];

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
];

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Type URLs of the resources this controller serves, in make-before-break order. */
export const TypeUrl = {
  Cluster: `${TYPE_URL_PREFIX}envoy.config.cluster.v3.Cluster`,
  ClusterLoadAssignment: `${TYPE_URL_PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  Listener: `${TYPE_URL_PREFIX}envoy.config.listener.v3.Listener`,
  RouteConfiguration: `${TYPE_URL_PREFIX}envoy.config.route.v3.RouteConfiguration`,
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
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target) && fs.existsSync(target)) return target;
    for (const dir of PROTO_INCLUDE_DIRS) {
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

/** The message type for a type URL or a fully qualified name. */
export function messageType(typeUrlOrName: string): protobuf.Type {
  const name = typeUrlOrName.startsWith(TYPE_URL_PREFIX) ? typeUrlOrName.slice(TYPE_URL_PREFIX.length) : typeUrlOrName;
  return envoyRoot().lookupType(name);
}

/** Encodes a message given in the proto3 JSON mapping. */
export function encodeJson(type: protobuf.Type, json: ProtoJson): Uint8Array {
  return type.encode(messageFromJson(type, json, type.name) as protobuf.Message).finish();
}

/**
 * Converts the proto3 JSON mapping into the object shape protobufjs encodes.
 * protobufjs's `fromObject` cannot take `"15s"` or a bare wrapper scalar (its
 * generated code insists on objects), so this walks the reflection once instead;
 * an unknown field throws with its path, since Envoy would reject it too.
 */
function messageFromJson(type: protobuf.Type, json: unknown, where: string): unknown {
  switch (type.fullName) {
    case '.google.protobuf.Any': {
      const any = json as ProtoJson;
      const typeUrl = any['@type'];
      if (typeof typeUrl !== 'string') throw new Error(`${where}: an Any needs "@type"`);
      const { '@type': _omit, ...fields } = any;
      return { type_url: typeUrl, value: encodeJson(messageType(typeUrl), fields) };
    }
    case '.google.protobuf.Duration':
      return typeof json === 'string' ? parseProtoDuration(json) : json;
    case '.google.protobuf.Struct':
      return { fields: mapValues(json as Record<string, unknown>, valueFromJson) };
    case '.google.protobuf.Value':
      return valueFromJson(json);
  }
  if (WRAPPER_TYPES.has(type.fullName)) return { value: json };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new Error(`${where}: expected an object for ${type.fullName.slice(1)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${where}: ${type.fullName.slice(1)} has no field "${key}"`);
    const at = `${where}.${key}`;
    if (field.map) {
      out[key] = mapValues(value as Record<string, unknown>, (v) => fieldFromJson(field, v, at));
    } else if (field.repeated) {
      out[key] = (value as unknown[]).map((v, i) => fieldFromJson(field, v, `${at}[${i}]`));
    } else {
      out[key] = fieldFromJson(field, value, at);
    }
  }
  return out;
}

function fieldFromJson(field: protobuf.Field, value: unknown, where: string): unknown {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) return messageFromJson(resolved, value, where);
  if (resolved instanceof protobuf.Enum) {
    if (typeof value === 'number') return value;
    const number = resolved.values[value as string];
    if (number === undefined) throw new Error(`${where}: "${String(value)}" is not a value of ${resolved.fullName.slice(1)}`);
    return number;
  }
  if (field.type === 'bytes' && typeof value === 'string') return Buffer.from(value, 'base64');
  return value;
}

const WRAPPER_TYPES = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map((s) => `.google.protobuf.${s}Value`),
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
  // protobufjs requires both halves; input goes through messageFromJson instead.
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

function valueFromJson(v: unknown): Record<string, unknown> {
  if (v === null || v === undefined) return { null_value: 'NULL_VALUE' };
  if (typeof v === 'number') return { number_value: v };
  if (typeof v === 'string') return { string_value: v };
  if (typeof v === 'boolean') return { bool_value: v };
  if (Array.isArray(v)) return { list_value: { values: v.map(valueFromJson) } };
  return { struct_value: { fields: mapValues(v as Record<string, unknown>, valueFromJson) } };
}

function valueToJson(message: unknown): unknown {
  const v = message as {
    string_value?: string;
    number_value?: number;
    bool_value?: boolean;
    struct_value?: { fields?: Record<string, unknown> };
    list_value?: { values?: unknown[] };
  };
  if (v.string_value !== undefined) return v.string_value;
  if (v.number_value !== undefined) return v.number_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.struct_value !== undefined) return mapValues(v.struct_value.fields ?? {}, valueToJson);
  if (v.list_value !== undefined) return (v.list_value.values ?? []).map(valueToJson);
  return null;
}

const PROTO_DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** Parses the proto3 JSON form of a Duration (`"1.5s"`). */
export function parseProtoDuration(text: string): { seconds: number; nanos: number } {
  const m = PROTO_DURATION.exec(text);
  if (!m) throw new Error(`"${text}" is not a protobuf Duration (expected seconds with an "s" suffix, e.g. "15s")`);
  const sign = m[1] ? -1 : 1;
  return { seconds: sign * Number(m[2]), nanos: sign * Number((m[3] ?? '').padEnd(9, '0')) };
}

/** Formats a Duration in its proto3 JSON form: `15s`, `0.250s`. */
export function formatProtoDuration(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const sign = seconds < 0 || nanos < 0 ? '-' : '';
  const frac = String(Math.abs(nanos)).padStart(9, '0').replace(/(000)+$/, '');
  return `${sign}${Math.abs(seconds)}.${frac}s`;
}
