/**
 * Subscribes to wasmCloud host heartbeats on the runtime's NATS
 * (`runtime.operator.heartbeat.<hostId>`, protojson HostHeartbeat, every 15 s)
 * and keeps each host's latest advertisement. The Host objects in Kubernetes do
 * not carry the interfaces, so this is the only place they can be learned.
 */
import { connect, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { parseHeartbeat, type HostAdvertisement } from './hosts';

export const HEARTBEAT_SUBJECT = 'runtime.operator.heartbeat.*';
/** How often hosts publish: after this long connected, every live host has been heard from. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

export interface HeartbeatOptions {
  url: string;
  /** mTLS with the runtime's NATS (the runtime-operator chart enables TLS by default). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  log: Logger;
  /** Called when a host appears, changes what it advertises, or is first heard from. */
  onChange: () => void;
  /** Time from connecting until the set of hosts is considered complete (default one heartbeat interval). */
  settleMs?: number;
  now?: () => number;
}

export class HeartbeatMonitor {
  private readonly hosts = new Map<string, HostAdvertisement>();
  private connection?: NatsConnection;
  private subscription?: Subscription;
  private connectedAt?: number;
  private settleTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: HeartbeatOptions) {}

  /** Connects (retrying in the background until the server is reachable) and subscribes. */
  async start(): Promise<void> {
    const { url, tls, log } = this.options;
    this.connection = await connect({
      servers: url,
      name: 'wasm-control',
      // Keep trying for ever: the runtime's NATS may start after us or restart.
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      ...(tls && (tls.caFile || tls.certFile) ? { tls: { ...tls } } : {}),
    });
    if (this.closed) {
      await this.connection.close();
      return;
    }
    log.info({ url }, 'NATS connected: reading host heartbeats for interface-aware placement');
    this.markConnected();
    void this.watchStatus(this.connection);
    this.subscription = this.connection.subscribe(HEARTBEAT_SUBJECT, {
      callback: (err, msg) => {
        if (err) return log.warn({ err: err.message }, 'NATS heartbeat subscription error');
        let payload: unknown;
        try {
          payload = JSON.parse(new TextDecoder().decode(msg.data));
        } catch {
          return log.warn({ subject: msg.subject }, 'host heartbeat is not JSON; ignored');
        }
        const hostId = msg.subject.slice(HEARTBEAT_SUBJECT.length - 1);
        const advertisement = parseHeartbeat(payload, hostId, this.now());
        if (!advertisement) return log.warn({ subject: msg.subject }, 'host heartbeat without interfaces or id; ignored');
        const before = this.hosts.get(advertisement.hostId);
        this.hosts.set(advertisement.hostId, advertisement);
        if (!before || !sameAdvertisement(before, advertisement)) this.options.onChange();
      },
    });
  }

  /** Latest advertisement per host (stale ones included; the placement check applies the TTL). */
  advertisements(): HostAdvertisement[] {
    return [...this.hosts.values()];
  }

  /** True once connected for a full heartbeat interval: absence of a host now means it is not there. */
  settled(): boolean {
    return this.connectedAt !== undefined && this.now() - this.connectedAt >= (this.options.settleMs ?? HEARTBEAT_INTERVAL_MS);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.settleTimer);
    this.subscription?.unsubscribe();
    await this.connection?.close();
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private markConnected(): void {
    this.connectedAt = this.now();
    clearTimeout(this.settleTimer);
    // Re-judge once settled, so "no host" verdicts appear without waiting for another change.
    this.settleTimer = setTimeout(() => this.options.onChange(), this.options.settleMs ?? HEARTBEAT_INTERVAL_MS);
  }

  private async watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'disconnect') {
        this.connectedAt = undefined;
        this.options.log.warn({ server: status.data }, 'NATS disconnected: placement verdicts kept as they were until it is back');
      } else if (status.type === 'reconnect') {
        this.options.log.info({ server: status.data }, 'NATS reconnected');
        this.markConnected();
      }
    }
  }
}

function sameAdvertisement(a: HostAdvertisement, b: HostAdvertisement): boolean {
  return JSON.stringify([a.labels, a.interfaces, a.name]) === JSON.stringify([b.labels, b.interfaces, b.name]);
}
