/**
 * A protoc-gen-validate checker for tests. Envoy validates every resource of an
 * xDS response against the `(validate.rules)` annotated in its protos and NACKs
 * the whole response over one violation, so translated resources are checked
 * here the way Envoy would: encode, decode, then walk the decoded message with
 * protobufjs reflection, recursing into `Any` by its type URL.
 *
 * protobufjs exposes the annotations as `field.parsedOptions` (a list of
 * `{"(validate.rules)": {...}}` objects; `field.options` flattens them to dotted
 * keys and loses empty values such as `duration: {gt: {}}`, so it is not used)
 * and a oneof's `(validate.required)` as `oneof.options`.
 *
 * Semantics follow PGV: a scalar's rules apply to its value even when unset
 * (`stat_prefix` absent is `""` and breaks `min_len: 1`); a message's rules only
 * when it is set, except `required`; a oneof member's rules only when it is the
 * chosen member. A rule this checker does not know, on a field that is set, is
 * itself reported, so nothing is waved through silently.
 */
import * as protobuf from 'protobufjs';
import { encodeJson, messageType, type ProtoJson } from '../../controller/envoy/protos';

export interface Violation {
  /** Field path from the resource root, e.g. `virtual_hosts[0].routes[1].route.cluster`. */
  field: string;
  rule: string;
  message: string;
}

type Rules = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Message = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Checks a resource given in proto3 JSON with its `@type` (as the translator emits it). */
export function pgvViolations(resource: ProtoJson): Violation[] {
  const typeUrl = resource['@type'];
  if (typeof typeUrl !== 'string') throw new Error('pgv: the resource has no "@type"');
  const { '@type': _omit, ...fields } = resource;
  const type = messageType(typeUrl);
  return checkMessage(type, type.decode(encodeJson(type, fields)) as unknown as Message, '');
}

/** Checks an already decoded protobufjs message of `type`. */
export function checkMessage(type: protobuf.Type, message: Message, at: string): Violation[] {
  const out: Violation[] = [];
  if (type.fullName === '.google.protobuf.Any') {
    const url = String(message.type_url ?? '');
    const inner = messageType(url);
    return checkMessage(inner, inner.decode(message.value) as unknown as Message, `${at}<${url.split('/').pop()}>`);
  }
  const options = (type.options ?? {}) as Record<string, unknown>;
  if (options['(validate.disabled)'] === true || options['(validate.ignored)'] === true) return out;
  for (const field of type.fieldsArray) {
    const name = field.name;
    const where = at ? `${at}.${name}` : name;
    const rules = fieldRules(field);
    const present = isPresent(message, field);
    if (field.partOf && !present) continue;
    if (field.map) {
      const entries = Object.entries((message[name] ?? {}) as Record<string, unknown>);
      if (rules) out.push(...mapRules(rules, entries, field, where));
      if (field.resolvedType instanceof protobuf.Type) {
        for (const [k, v] of entries) out.push(...checkMessage(field.resolvedType, v as Message, `${where}[${k}]`));
      }
      continue;
    }
    if (field.repeated) {
      const items = (message[name] ?? []) as unknown[];
      if (rules) out.push(...repeatedRules(rules, items, field, where));
      if (field.resolvedType instanceof protobuf.Type && !rules?.repeated?.items?.message?.skip) {
        items.forEach((v, i) => out.push(...checkMessage(field.resolvedType as protobuf.Type, v as Message, `${where}[${i}]`)));
      }
      continue;
    }
    if (rules) out.push(...valueRules(rules, message[name], present, field, where));
    if (present && field.resolvedType instanceof protobuf.Type && !rules?.message?.skip) {
      out.push(...checkMessage(field.resolvedType, message[name] as Message, where));
    }
  }
  for (const oneof of type.oneofsArray) {
    if ((oneof.options as Record<string, unknown> | undefined)?.['(validate.required)'] !== true) continue;
    if (!oneof.fieldsArray.some((f) => isPresent(message, f))) {
      out.push({ field: at ? `${at}.${oneof.name}` : oneof.name, rule: 'oneof.required', message: `one of ${oneof.oneof.join(', ')} must be set` });
    }
  }
  return out;
}

/** The `(validate.rules)` of a field, merged (protobufjs may list them in pieces). */
export function fieldRules(field: protobuf.Field): Rules | undefined {
  let merged: Rules | undefined;
  for (const option of (field.parsedOptions ?? []) as Record<string, unknown>[]) {
    const rules = option['(validate.rules)'];
    if (rules && typeof rules === 'object') merged = deepMerge(merged ?? {}, rules as Rules);
  }
  return merged;
}

function deepMerge(a: Rules, b: Rules): Rules {
  const out: Rules = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? deepMerge(out[k], v) : v;
  }
  return out;
}

function isPresent(message: Message, field: protobuf.Field): boolean {
  const v = message[field.name];
  if (field.repeated) return Array.isArray(v) && v.length > 0;
  if (field.map) return v !== undefined && v !== null && Object.keys(v).length > 0;
  return Object.prototype.hasOwnProperty.call(message, field.name) && v !== undefined && v !== null;
}

const WRAPPERS: Record<string, string> = {
  '.google.protobuf.UInt32Value': 'uint32',
  '.google.protobuf.UInt64Value': 'uint64',
  '.google.protobuf.Int32Value': 'int32',
  '.google.protobuf.Int64Value': 'int64',
  '.google.protobuf.DoubleValue': 'double',
  '.google.protobuf.FloatValue': 'float',
  '.google.protobuf.BoolValue': 'bool',
  '.google.protobuf.StringValue': 'string',
  '.google.protobuf.BytesValue': 'bytes',
};
const NUMERIC = new Set(['uint32', 'uint64', 'int32', 'int64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'double', 'float']);

function valueRules(rules: Rules, value: unknown, present: boolean, field: protobuf.Field, where: string): Violation[] {
  const out: Violation[] = [];
  const v = (rule: string, message: string) => out.push({ field: where, rule, message });
  const resolved = field.resolvedType;
  const isMessage = resolved instanceof protobuf.Type;
  for (const [kind, r] of Object.entries(rules)) {
    if (kind === 'message') {
      if (r.required && !present) v('message.required', 'is required');
      continue;
    }
    if (kind === 'any' || kind === 'duration' || kind === 'timestamp') {
      if (r.required && !present) v(`${kind}.required`, 'is required');
      if (!present) continue;
      if (kind === 'duration') out.push(...durationRules(r, value as Message, where));
      else if (kind === 'any') out.push(...inRules(`any`, r, String((value as Message).type_url), where, new Set(['required'])));
      else v(`${kind}`, 'timestamp rules are not modelled');
      continue;
    }
    if (isMessage && !WRAPPERS[(resolved as protobuf.Type).fullName]) {
      v(kind, `rule kind "${kind}" on a message field is not modelled`);
      continue;
    }
    // Wrapper rules apply to the wrapped value, only when the wrapper is set.
    let scalar: unknown = value;
    if (isMessage) {
      if (!present) continue;
      scalar = (value as Message).value ?? defaultFor(WRAPPERS[(resolved as protobuf.Type).fullName]);
    }
    out.push(...scalarRules(kind, r, scalar, resolved instanceof protobuf.Enum ? resolved : undefined, where));
  }
  return out;
}

function defaultFor(kind: string): unknown {
  return kind === 'string' ? '' : kind === 'bool' ? false : kind === 'bytes' ? new Uint8Array() : 0;
}

export function scalarRules(kind: string, r: Rules, value: unknown, enumType: protobuf.Enum | undefined, where: string): Violation[] {
  const out: Violation[] = [];
  const v = (rule: string, message: string) => out.push({ field: where, rule: `${kind}.${rule}`, message });
  if (kind === 'string') {
    const s = String(value ?? '');
    if (r.ignore_empty && s === '') return out;
    const chars = [...s].length;
    const bytes = Buffer.byteLength(s, 'utf8');
    for (const [rule, limit] of Object.entries(r)) {
      switch (rule) {
        case 'ignore_empty':
        case 'strict':
          break;
        case 'min_len':
          if (chars < Number(limit)) v(rule, `${JSON.stringify(s)} is shorter than ${limit} characters`);
          break;
        case 'max_len':
          if (chars > Number(limit)) v(rule, `is longer than ${limit} characters`);
          break;
        case 'len':
          if (chars !== Number(limit)) v(rule, `is not ${limit} characters long`);
          break;
        case 'min_bytes':
          if (bytes < Number(limit)) v(rule, `is shorter than ${limit} bytes`);
          break;
        case 'max_bytes':
          if (bytes > Number(limit)) v(rule, `is longer than ${limit} bytes`);
          break;
        case 'prefix':
          if (!s.startsWith(String(limit))) v(rule, `${JSON.stringify(s)} does not start with ${JSON.stringify(limit)}`);
          break;
        case 'suffix':
          if (!s.endsWith(String(limit))) v(rule, `${JSON.stringify(s)} does not end with ${JSON.stringify(limit)}`);
          break;
        case 'contains':
          if (!s.includes(String(limit))) v(rule, `${JSON.stringify(s)} does not contain ${JSON.stringify(limit)}`);
          break;
        case 'pattern':
          if (!re2Search(String(limit)).test(s)) v(rule, `${JSON.stringify(s)} does not match ${limit}`);
          break;
        case 'well_known_regex':
          if (!wellKnownRegex(String(limit), r.strict !== false).test(s)) {
            v(rule, `${JSON.stringify(s)} is not a valid ${limit}${r.strict === false ? ' (non-strict)' : ''}`);
          }
          break;
        case 'in':
        case 'not_in':
        case 'const':
          out.push(...inRules('string', { [rule]: limit }, s, where, new Set()));
          break;
        default:
          v(rule, 'string rule is not modelled');
      }
    }
    return out;
  }
  if (kind === 'bytes') {
    const len = value instanceof Uint8Array ? value.length : 0;
    if (r.ignore_empty && len === 0) return out;
    for (const [rule, limit] of Object.entries(r)) {
      if (rule === 'ignore_empty') continue;
      if (rule === 'min_len' && len < Number(limit)) v(rule, `has fewer than ${limit} bytes`);
      else if (rule === 'max_len' && len > Number(limit)) v(rule, `has more than ${limit} bytes`);
      else if (rule !== 'min_len' && rule !== 'max_len') v(rule, 'bytes rule is not modelled');
    }
    return out;
  }
  if (kind === 'bool') {
    if (r.const !== undefined && Boolean(value) !== r.const) v('const', `must be ${r.const}`);
    for (const rule of Object.keys(r)) if (rule !== 'const') v(rule, 'bool rule is not modelled');
    return out;
  }
  if (kind === 'enum') {
    const n = Number(value ?? 0);
    for (const [rule, limit] of Object.entries(r)) {
      if (rule === 'defined_only') {
        if (limit && enumType && enumType.valuesById[n] === undefined) v(rule, `${n} is not a value of ${enumType.fullName.slice(1)}`);
      } else if (rule === 'in' || rule === 'not_in' || rule === 'const') {
        out.push(...inRules('enum', { [rule]: limit }, n, where, new Set()));
      } else v(rule, 'enum rule is not modelled');
    }
    return out;
  }
  if (NUMERIC.has(kind)) {
    const n = toNumber(value);
    if (r.ignore_empty && n === 0) return out;
    const cmp: Record<string, (x: number, y: number) => boolean> = {
      gt: (x, y) => x > y,
      gte: (x, y) => x >= y,
      lt: (x, y) => x < y,
      lte: (x, y) => x <= y,
    };
    // PGV: gt with lt (or lte) below it means "outside the range" (exclusive of it).
    const lower = ['gt', 'gte'].find((k) => r[k] !== undefined);
    const upper = ['lt', 'lte'].find((k) => r[k] !== undefined);
    if (lower && upper && Number(r[upper]) < Number(r[lower])) {
      if (!(cmp[lower](n, Number(r[lower])) || cmp[upper](n, Number(r[upper])))) v(`${lower}+${upper}`, `${n} is inside the excluded range`);
    } else {
      for (const k of [lower, upper]) if (k && !cmp[k](n, Number(r[k]))) v(k, `${n} is not ${k} ${r[k]}`);
    }
    for (const rule of Object.keys(r)) {
      if (['gt', 'gte', 'lt', 'lte', 'ignore_empty'].includes(rule)) continue;
      if (rule === 'in' || rule === 'not_in' || rule === 'const') out.push(...inRules(kind, { [rule]: r[rule] }, n, where, new Set()));
      else v(rule, `${kind} rule is not modelled`);
    }
    return out;
  }
  v('*', `rule kind "${kind}" is not modelled`);
  return out;
}

function inRules(kind: string, r: Rules, value: unknown, where: string, skip: Set<string>): Violation[] {
  const out: Violation[] = [];
  for (const [rule, list] of Object.entries(r)) {
    if (skip.has(rule)) continue;
    const values = (Array.isArray(list) ? list : [list]).map((x) => (typeof value === 'number' ? Number(x) : String(x)));
    const has = values.includes(value as never);
    if (rule === 'in' && !has) out.push({ field: where, rule: `${kind}.in`, message: `${JSON.stringify(value)} is not one of ${values.join(', ')}` });
    else if (rule === 'not_in' && has) out.push({ field: where, rule: `${kind}.not_in`, message: `${JSON.stringify(value)} is not allowed` });
    else if (rule === 'const' && value !== values[0]) out.push({ field: where, rule: `${kind}.const`, message: `must be ${values[0]}` });
    else if (!['in', 'not_in', 'const'].includes(rule)) out.push({ field: where, rule: `${kind}.${rule}`, message: 'rule is not modelled' });
  }
  return out;
}

function durationRules(r: Rules, d: Message, where: string): Violation[] {
  const out: Violation[] = [];
  const nanos = (x: Message | undefined) => BigInt(toNumber(x?.seconds)) * 1_000_000_000n + BigInt(toNumber(x?.nanos));
  const n = nanos(d);
  const checks: Record<string, (a: bigint, b: bigint) => boolean> = {
    gt: (a, b) => a > b,
    gte: (a, b) => a >= b,
    lt: (a, b) => a < b,
    lte: (a, b) => a <= b,
    const: (a, b) => a === b,
  };
  for (const [rule, limit] of Object.entries(r)) {
    if (rule === 'required') continue;
    const check = checks[rule];
    if (!check) out.push({ field: where, rule: `duration.${rule}`, message: 'duration rule is not modelled' });
    else if (!check(n, nanos(limit))) out.push({ field: where, rule: `duration.${rule}`, message: `${n}ns is not ${rule} ${nanos(limit)}ns` });
  }
  return out;
}

function repeatedRules(rules: Rules, items: unknown[], field: protobuf.Field, where: string): Violation[] {
  const out: Violation[] = [];
  for (const [kind, r] of Object.entries(rules)) {
    if (kind !== 'repeated') {
      out.push({ field: where, rule: kind, message: `rule kind "${kind}" on a repeated field is not modelled` });
      continue;
    }
    if (r.ignore_empty && items.length === 0) continue;
    if (r.min_items !== undefined && items.length < Number(r.min_items)) {
      out.push({ field: where, rule: 'repeated.min_items', message: `has ${items.length} items, fewer than ${r.min_items}` });
    }
    if (r.max_items !== undefined && items.length > Number(r.max_items)) {
      out.push({ field: where, rule: 'repeated.max_items', message: `has ${items.length} items, more than ${r.max_items}` });
    }
    if (r.unique) {
      const keys = items.map((x) => JSON.stringify(x));
      if (new Set(keys).size !== keys.length) out.push({ field: where, rule: 'repeated.unique', message: 'has duplicate items' });
    }
    if (r.items) {
      items.forEach((item, i) => out.push(...valueRules(r.items, item, true, field, `${where}[${i}]`)));
    }
    for (const k of Object.keys(r)) {
      if (!['min_items', 'max_items', 'unique', 'items', 'ignore_empty'].includes(k)) {
        out.push({ field: where, rule: `repeated.${k}`, message: 'repeated rule is not modelled' });
      }
    }
  }
  return out;
}

function mapRules(rules: Rules, entries: [string, unknown][], field: protobuf.Field, where: string): Violation[] {
  const out: Violation[] = [];
  const r = rules.map ?? {};
  if (r.ignore_empty && entries.length === 0) return out;
  if (r.min_pairs !== undefined && entries.length < Number(r.min_pairs)) {
    out.push({ field: where, rule: 'map.min_pairs', message: `has ${entries.length} pairs, fewer than ${r.min_pairs}` });
  }
  if (r.max_pairs !== undefined && entries.length > Number(r.max_pairs)) {
    out.push({ field: where, rule: 'map.max_pairs', message: `has ${entries.length} pairs, more than ${r.max_pairs}` });
  }
  for (const [k, value] of entries) {
    for (const [kind, kr] of Object.entries((r.keys ?? {}) as Rules)) out.push(...scalarRules(kind, kr, k, undefined, `${where}[${k}] (key)`));
    if (r.values) out.push(...valueRules(r.values, value, true, field, `${where}[${k}]`));
  }
  for (const k of Object.keys(rules)) if (k !== 'map') out.push({ field: where, rule: k, message: `rule kind "${k}" on a map is not modelled` });
  return out;
}

function toNumber(x: unknown): number {
  if (x === undefined || x === null) return 0;
  if (typeof x === 'number') return x;
  if (typeof x === 'object' && typeof (x as { toNumber?: unknown }).toNumber === 'function') return (x as { toNumber(): number }).toNumber();
  return Number(String(x));
}

/** PGV's well-known regexes (validate.proto, KnownRegex). */
export function wellKnownRegex(name: string, strict: boolean): RegExp {
  if (!strict) return /^[^\u0000\u000A\u000D]*$/;
  if (name === 'HTTP_HEADER_NAME') return /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
  if (name === 'HTTP_HEADER_VALUE') return /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
  throw new Error(`pgv: well-known regex ${name} is not modelled`);
}

/** An RE2 pattern as a JS RegExp with PGV's search (not full-match) semantics. */
function re2Search(pattern: string): RegExp {
  return pattern.startsWith('(?i)') ? new RegExp(pattern.slice(4), 'iu') : new RegExp(pattern, 'u');
}
