/**
 * A fast encoder from the proto3 JSON mapping straight to protobuf wire bytes,
 * driven by the protobufjs reflection of the Envoy API.
 *
 * It writes into one growing buffer and back-patches each nested message's
 * length, where protobufjs needs a conversion pass and a chain of forked writers.
 * It serves what is written from JSON (listeners, API listeners, bootstraps, the
 * fields every cluster shares); the routes, clusters and assignments there are
 * thousands of are written by encode.ts. The bytes decode to the same message
 * (tests check every resource against protobufjs), so this is an encoder, not a
 * second definition of the API.
 */
import * as protobuf from 'protobufjs';
import { parseProtoDuration } from './proto-duration';

type ProtoJson = { [field: string]: unknown };

type Kind = 'string' | 'bytes' | 'bool' | 'varint' | 'sint' | 'double' | 'float' | 'fixed32' | 'fixed64' | 'enum' | 'message';

interface FieldCodec {
  name: string;
  number: number;
  kind: Kind;
  repeated: boolean;
  packed: boolean;
  map?: { key: FieldCodec; value: FieldCodec };
  message?: MessageCodec;
  enumValues?: Readonly<Record<string, number>>;
}

type WellKnown = 'Any' | 'Duration' | 'Struct' | 'Value' | 'ListValue' | 'Wrapper' | undefined;

interface MessageCodec {
  fullName: string;
  /** Where an Any's `@type` is looked up. */
  root: protobuf.Root;
  wellKnown: WellKnown;
  fields: Map<string, FieldCodec>;
}

const codecs = new Map<protobuf.Type, MessageCodec>();

function messageCodec(type: protobuf.Type): MessageCodec {
  let codec = codecs.get(type);
  if (codec) return codec;
  const fullName = type.fullName.slice(1);
  const wellKnown = WELL_KNOWN[fullName] ?? (/^google\.protobuf\.\w+Value$/.test(fullName) && fullName !== 'google.protobuf.Value' ? 'Wrapper' : undefined);
  codec = { fullName, wellKnown, root: type.root as protobuf.Root, fields: new Map() };
  codecs.set(type, codec); // before the fields: types can be recursive
  for (const field of type.fieldsArray) {
    field.resolve();
    const fc = fieldCodec(field.name, field.id, field.type, field.resolvedType, field.repeated, field.packed);
    if (field instanceof protobuf.MapField) {
      fc.map = { key: fieldCodec('key', 1, field.keyType, null, false, false), value: fieldCodec('value', 2, field.type, field.resolvedType, false, false) };
    }
    codec.fields.set(field.name, fc);
  }
  return codec;
}

const WELL_KNOWN: Record<string, WellKnown> = {
  'google.protobuf.Any': 'Any',
  'google.protobuf.Duration': 'Duration',
  'google.protobuf.Struct': 'Struct',
  'google.protobuf.Value': 'Value',
  'google.protobuf.ListValue': 'ListValue',
};

const SCALAR_KINDS: Record<string, Kind> = {
  string: 'string',
  bytes: 'bytes',
  bool: 'bool',
  int32: 'varint',
  int64: 'varint',
  uint32: 'varint',
  uint64: 'varint',
  sint32: 'sint',
  sint64: 'sint',
  double: 'double',
  float: 'float',
  fixed32: 'fixed32',
  sfixed32: 'fixed32',
  fixed64: 'fixed64',
  sfixed64: 'fixed64',
};

function fieldCodec(
  name: string,
  number: number,
  type: string,
  resolved: protobuf.Type | protobuf.Enum | null,
  repeated: boolean,
  packed: boolean,
): FieldCodec {
  const fc: FieldCodec = { name, number, kind: SCALAR_KINDS[type] ?? 'message', repeated, packed };
  if (resolved instanceof protobuf.Enum) {
    fc.kind = 'enum';
    fc.enumValues = resolved.values;
  } else if (resolved instanceof protobuf.Type) {
    Object.defineProperty(fc, 'message', { get: () => messageCodec(resolved), enumerable: true });
  }
  return fc;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

/** A growing buffer that nested messages are written into in place. */
export class WireWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    if (value < 0) {
      // Negative int32/int64: two's complement over 64 bits, 10 bytes.
      let lo = value >>> 0;
      let hi = Math.floor(value / 4294967296) >>> 0;
      for (let i = 0; i < 9; i++) {
        this.buf[this.pos++] = (lo & 0x7f) | 0x80;
        lo = ((lo >>> 7) | (hi << 25)) >>> 0;
        hi >>>= 7;
      }
      this.buf[this.pos++] = lo & 0x01;
      return;
    }
    while (value >= 0x80) {
      this.buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buf[this.pos++] = value;
  }

  tag(number: number, wire: number): void {
    const key = number * 8 + wire;
    if (key < 0x80) {
      this.ensure(1);
      this.buf[this.pos++] = key;
    } else {
      this.varint(key);
    }
  }

  string(value: string): void {
    const n = value.length;
    // Short ASCII strings (nearly all of ours) are copied by hand: cheaper than a native call.
    if (n < 0x80) {
      this.ensure(n + 1);
      if (this.copyAscii(value, this.pos + 1)) {
        this.buf[this.pos] = n;
        this.pos += n + 1;
        return;
      }
    }
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  /** A string field's value followed by "/", without making the joined string. */
  stringThenSlash(value: string): void {
    const n = value.length;
    if (n < 0x7f) {
      this.ensure(n + 2);
      if (this.copyAscii(value, this.pos + 1)) {
        this.buf[this.pos] = n + 1;
        this.buf[this.pos + 1 + n] = 0x2f;
        this.pos += n + 2;
        return;
      }
    }
    this.string(`${value}/`);
  }

  /** Copies `value` to `at` if it is all ASCII (room must be ensured); false, with bytes left undefined, if not. */
  private copyAscii(value: string, at: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at + i] = c;
    }
    return true;
  }

  /** Appends bytes as they are (no length prefix). */
  raw(value: Uint8Array): void {
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Appends what another writer holds. */
  copyFrom(other: WireWriter): void {
    this.ensure(other.pos);
    other.buf.copy(this.buf, this.pos, 0, other.pos);
    this.pos += other.pos;
  }

  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  /** Starts a length-delimited field; returns the mark to pass to `endLength`. */
  beginLength(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length at the mark, moving the content if the length needs more than one byte. */
  endLength(mark: number): void {
    const length = this.pos - mark - 1;
    if (length < 0x80) {
      this.buf[mark] = length;
      return;
    }
    const size = varintSize(length);
    this.ensure(size - 1);
    this.buf.copyWithin(mark + size, mark + 1, this.pos);
    this.pos += size - 1;
    let at = mark;
    let v = length;
    while (v >= 0x80) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }

  double(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  float(value: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(value, this.pos);
    this.pos += 4;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  fixed64(value: number): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(value)), this.pos);
    this.pos += 8;
  }

  /** A copy of what was written. */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }
}

export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Writes a message's fields (without tag or length) from its proto3 JSON form. */
export function writeMessage(w: WireWriter, type: protobuf.Type, json: unknown): void {
  try {
    writeMessageBody(w, messageCodec(type), json);
  } catch (error) {
    if (error instanceof FieldError) throw new Error(`${[type.name, ...error.path].join('.').replace(/\.\[/g, '[')}: ${error.message}`);
    throw error;
  }
}

/**
 * An encoding error deep in a message; the field path is collected while the
 * stack unwinds, so the hot path builds no path strings.
 */
class FieldError extends Error {
  readonly path: string[] = [];
}

function atField(error: unknown, segment: string): never {
  if (error instanceof FieldError) error.path.unshift(segment);
  throw error;
}

const scratch = new WireWriter();

/** Encodes a message from its proto3 JSON form (into a shared scratch buffer, then copied out). */
export function encodeMessage(type: protobuf.Type, json: ProtoJson): Uint8Array {
  return encodeWith((w) => writeMessage(w, type, json));
}

/** The bytes `write` produces (written into a shared scratch buffer, then copied out). */
export function encodeWith(write: (w: WireWriter) => void): Uint8Array {
  scratch.reset();
  write(scratch);
  return scratch.finish();
}

function writeMessageBody(w: WireWriter, codec: MessageCodec, json: unknown): void {
  switch (codec.wellKnown) {
    case 'Duration': {
      const d = typeof json === 'string' ? parseProtoDuration(json) : (json as { seconds?: number; nanos?: number });
      if (d.seconds) (w.tag(1, WIRE_VARINT), w.varint(Number(d.seconds)));
      if (d.nanos) (w.tag(2, WIRE_VARINT), w.varint(d.nanos));
      return;
    }
    case 'Wrapper':
      if (json !== 0 && json !== false && json !== '' && json !== null) writeField(w, codec.fields.get('value')!, json);
      return;
    case 'Struct':
      writeStructFields(w, json);
      return;
    case 'Value':
      writeValue(w, json);
      return;
    case 'ListValue':
      writeListValues(w, json);
      return;
    case 'Any': {
      const any = json as ProtoJson;
      const typeUrl = any['@type'];
      if (typeof typeUrl !== 'string') throw new FieldError('an Any needs "@type"');
      w.tag(1, WIRE_LEN);
      w.string(typeUrl);
      w.tag(2, WIRE_LEN);
      const mark = w.beginLength();
      const inner = messageCodec(codec.root.lookupType(typeUrl.slice(typeUrl.lastIndexOf('/') + 1)));
      for (const key in any) if (key !== '@type') writeKey(w, inner, key, any[key]);
      w.endLength(mark);
      return;
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FieldError(`expected an object for ${codec.fullName}`);
  const object = json as ProtoJson;
  for (const key in object) writeKey(w, codec, key, object[key]);
}

function writeKey(w: WireWriter, codec: MessageCodec, key: string, value: unknown): void {
  const field = codec.fields.get(key);
  if (!field) throw new FieldError(`${codec.fullName} has no field "${key}"`);
  if (value === undefined) return;
  try {
    if (field.map) {
      const entries = value as ProtoJson;
      for (const k in entries) {
        w.tag(field.number, WIRE_LEN);
        const mark = w.beginLength();
        writeField(w, field.map.key, field.map.key.kind === 'string' ? k : Number(k));
        try {
          writeField(w, field.map.value, entries[k]);
        } catch (error) {
          atField(error, `["${k}"]`);
        }
        w.endLength(mark);
      }
    } else if (field.repeated) {
      const list = value as unknown[];
      if (field.packed && field.kind !== 'string' && field.kind !== 'bytes' && field.kind !== 'message') {
        w.tag(field.number, WIRE_LEN);
        const mark = w.beginLength();
        for (const item of list) writeScalar(w, field, item);
        w.endLength(mark);
      } else {
        for (let i = 0; i < list.length; i++) {
          try {
            writeField(w, field, list[i]);
          } catch (error) {
            atField(error, `[${i}]`);
          }
        }
      }
    } else {
      writeField(w, field, value);
    }
  } catch (error) {
    atField(error, key);
  }
}

function writeField(w: WireWriter, field: FieldCodec, value: unknown): void {
  switch (field.kind) {
    case 'message': {
      w.tag(field.number, WIRE_LEN);
      const mark = w.beginLength();
      writeMessageBody(w, field.message!, value);
      w.endLength(mark);
      return;
    }
    case 'string':
      w.tag(field.number, WIRE_LEN);
      w.string(value as string);
      return;
    case 'bytes':
      w.tag(field.number, WIRE_LEN);
      w.bytes(typeof value === 'string' ? Buffer.from(value, 'base64') : (value as Uint8Array));
      return;
    case 'double':
    case 'fixed64':
      w.tag(field.number, WIRE_FIXED64);
      break;
    case 'float':
    case 'fixed32':
      w.tag(field.number, WIRE_FIXED32);
      break;
    default:
      w.tag(field.number, WIRE_VARINT);
  }
  writeScalar(w, field, value);
}

function writeScalar(w: WireWriter, field: FieldCodec, value: unknown): void {
  switch (field.kind) {
    case 'bool':
      w.varint(value ? 1 : 0);
      return;
    case 'varint':
      w.varint(Number(value));
      return;
    case 'sint': {
      const n = Number(value);
      w.varint(n >= 0 ? n * 2 : -n * 2 - 1);
      return;
    }
    case 'enum': {
      const n = typeof value === 'number' ? value : field.enumValues![value as string];
      if (n === undefined) throw new FieldError(`"${String(value)}" is not a value of this enum`);
      w.varint(n);
      return;
    }
    case 'double':
      w.double(Number(value));
      return;
    case 'float':
      w.float(Number(value));
      return;
    case 'fixed32':
      w.fixed32(Number(value));
      return;
    case 'fixed64':
      w.fixed64(Number(value));
      return;
  }
}

function writeStructFields(w: WireWriter, json: unknown): void {
  const object = json as ProtoJson;
  for (const k in object) {
    w.tag(1, WIRE_LEN);
    const entry = w.beginLength();
    w.tag(1, WIRE_LEN);
    w.string(k);
    w.tag(2, WIRE_LEN);
    const value = w.beginLength();
    try {
      writeValue(w, object[k]);
    } catch (error) {
      atField(error, k);
    }
    w.endLength(value);
    w.endLength(entry);
  }
}

function writeValue(w: WireWriter, v: unknown): void {
  if (v === null || v === undefined) {
    w.tag(1, WIRE_VARINT);
    w.varint(0);
  } else if (typeof v === 'number') {
    w.tag(2, WIRE_FIXED64);
    w.double(v);
  } else if (typeof v === 'string') {
    w.tag(3, WIRE_LEN);
    w.string(v);
  } else if (typeof v === 'boolean') {
    w.tag(4, WIRE_VARINT);
    w.varint(v ? 1 : 0);
  } else {
    w.tag(Array.isArray(v) ? 6 : 5, WIRE_LEN);
    const mark = w.beginLength();
    if (Array.isArray(v)) writeListValues(w, v);
    else writeStructFields(w, v);
    w.endLength(mark);
  }
}

function writeListValues(w: WireWriter, list: unknown): void {
  (list as unknown[]).forEach((item, i) => {
    w.tag(1, WIRE_LEN);
    const mark = w.beginLength();
    try {
      writeValue(w, item);
    } catch (error) {
      atField(error, `[${i}]`);
    }
    w.endLength(mark);
  });
}
