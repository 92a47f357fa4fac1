/**
 * What each wasmCloud host provides, learned from its heartbeats, and the
 * placement check built on it: can any Ready host matching a workload's
 * hostSelector run every host interface the workload declares? The runtime
 * operator does not ask; the host refuses the start and the workload is
 * recreated every minute (the runtime-operator deletes Workloads unhealthy past a
 * one-minute grace and scales up again: workload_replicaset_controller.go).
 */
import { formatInterface, missingInterfaces, placementFix, type AdvertisedInterface } from '../api/interfaces';
import { conditionIsTrue, type Host, type HostInterface } from '../api/types';

/** The operator's heartbeat TTL (`UnreachableTimeout`): a host silent for longer is gone. */
export const HEARTBEAT_TTL_MS = 60_000;

/**
 * WASI 0.2 interfaces every wash host serves itself. They are part of the host's
 * world but not of the heartbeat, which lists only plugins' imports/exports.
 */
export const BUILTIN_INTERFACES: readonly AdvertisedInterface[] = [
  { namespace: 'wasi', package: 'http', interfaces: ['types', 'incoming-handler', 'outgoing-handler', 'handler'] },
  { namespace: 'wasi', package: 'io', interfaces: ['error', 'poll', 'streams'] },
  { namespace: 'wasi', package: 'clocks', interfaces: ['monotonic-clock', 'wall-clock'] },
  { namespace: 'wasi', package: 'random', interfaces: ['random', 'insecure', 'insecure-seed'] },
  {
    namespace: 'wasi',
    package: 'cli',
    interfaces: ['environment', 'exit', 'stdin', 'stdout', 'stderr', 'terminal-input', 'terminal-output', 'terminal-stdin', 'terminal-stdout', 'terminal-stderr', 'run'],
  },
  { namespace: 'wasi', package: 'filesystem', interfaces: ['types', 'preopens'] },
  { namespace: 'wasi', package: 'sockets', interfaces: ['network', 'instance-network', 'tcp', 'tcp-create-socket', 'udp', 'udp-create-socket', 'ip-name-lookup'] },
];

/** One host as its latest heartbeat describes it. */
export interface HostAdvertisement {
  hostId: string;
  /** Friendly name (the Host object's name), for messages. */
  name: string;
  labels: Record<string, string>;
  interfaces: AdvertisedInterface[];
  /** When the heartbeat arrived (ms since the epoch, local clock). */
  seenAt: number;
}

/**
 * Reads a protojson HostHeartbeat (runtime/v2 host_heartbeat.proto). protojson
 * writes lowerCamelCase names by default and accepts the proto names, so both
 * are read. Returns undefined for a payload that is not a heartbeat.
 */
export function parseHeartbeat(payload: unknown, subjectHostId: string, now: number): HostAdvertisement | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const p = payload as Record<string, unknown>;
  const hostId = typeof p.id === 'string' && p.id !== '' ? p.id : subjectHostId;
  if (!hostId) return undefined;
  const labels: Record<string, string> = {};
  if (p.labels && typeof p.labels === 'object') {
    for (const [k, v] of Object.entries(p.labels as Record<string, unknown>)) if (typeof v === 'string') labels[k] = v;
  }
  const interfaces: AdvertisedInterface[] = [];
  for (const list of [p.imports, p.exports]) {
    if (!Array.isArray(list)) continue;
    for (const entry of list) {
      const e = entry as Record<string, unknown> | null;
      if (!e || typeof e.namespace !== 'string' || typeof e.package !== 'string' || !Array.isArray(e.interfaces)) continue;
      interfaces.push({
        namespace: e.namespace,
        package: e.package,
        interfaces: e.interfaces.filter((i): i is string => typeof i === 'string'),
        ...(typeof e.version === 'string' && e.version !== '' ? { version: e.version } : {}),
      });
    }
  }
  const name = [p.friendlyName, p.friendly_name].find((n): n is string => typeof n === 'string' && n !== '') ?? hostId;
  return { hostId, name, labels, interfaces, seenAt: now };
}

export interface PlacementVerdict {
  status: 'True' | 'False' | 'Unknown';
  reason: 'InterfacesAvailable' | 'InterfaceUnavailable' | 'NoMatchingHost' | 'WaitingForHeartbeats';
  message: string;
  /** For InterfaceUnavailable: what every candidate host lacks (from the closest candidate). */
  missing?: HostInterface[];
}

export interface PlacementRequest {
  hostInterfaces: readonly HostInterface[];
  hostSelector?: Record<string, string>;
  /** A Workload pinned to one host (`spec.hostId`) is only checked against it. */
  hostId?: string;
}

/**
 * Judges a workload against the hosts heard from. Ready hosts are those with a
 * fresh heartbeat, minus those whose Host object says they are not Ready.
 * `settled` is false until heartbeats have had time to arrive (one interval
 * after connecting); until then nothing is declared unplaceable.
 */
export function checkPlacement(
  request: PlacementRequest,
  advertisements: readonly HostAdvertisement[],
  hostObjects: readonly Host[],
  now: number,
  settled: boolean,
): PlacementVerdict {
  const notReady = new Set(hostObjects.filter((h) => !conditionIsTrue(h.status, 'Ready')).map((h) => h.hostId));
  const selector = request.hostSelector ?? {};
  const candidates = advertisements.filter(
    (a) =>
      now - a.seenAt <= HEARTBEAT_TTL_MS &&
      !notReady.has(a.hostId) &&
      (!request.hostId || a.hostId === request.hostId) &&
      Object.entries(selector).every(([k, v]) => a.labels[k] === v),
  );
  const selectorText = Object.keys(selector).length > 0 ? `hostSelector ${Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',')}` : 'no hostSelector';
  if (candidates.length === 0) {
    if (!settled) return { status: 'Unknown', reason: 'WaitingForHeartbeats', message: 'no host heartbeat received yet' };
    return {
      status: 'False',
      reason: 'NoMatchingHost',
      message: `no Ready host matches ${selectorText}${request.hostId ? ` and hostId ${request.hostId}` : ''}: the runtime cannot schedule it (no suitable host found)`,
    };
  }
  let closest: HostInterface[] | undefined;
  for (const host of candidates) {
    const missing = missingInterfaces(request.hostInterfaces, [...host.interfaces, ...BUILTIN_INTERFACES]);
    if (missing.length === 0) {
      return { status: 'True', reason: 'InterfacesAvailable', message: `host ${host.name} (${host.hostId}) provides every declared host interface` };
    }
    if (!closest || missing.length < closest.length) closest = missing;
  }
  const names = closest!.map(formatInterface).join(', ');
  return {
    status: 'False',
    reason: 'InterfaceUnavailable',
    message: `no Ready host matching ${selectorText} provides ${names} (${candidates.length} host(s) checked); the runtime would place it and the host would refuse to start it. Fix: ${placementFix(closest!)}`,
    missing: closest,
  };
}
