/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go does it:
 * the holder renews every retry period; a candidate takes the lease once it has
 * seen the same record unchanged for the record's lease duration (measured on
 * its own clock, so clock skew between replicas does not matter). Updates carry
 * the resourceVersion read, so two candidates cannot both win. On close the
 * leader releases the lease so another replica takes over without waiting.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  /** Defaults as client-go: 15 s lease, 10 s renew deadline, 2 s retry period. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private leading = false;
  private lastRenew = 0;
  private observed?: { resourceVersion: string; at: number };
  private timer?: NodeJS.Timeout;
  private closed = false;
  private cycle?: Promise<void>;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  /** True while this replica holds a lease renewed within the renew deadline. */
  isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenew < this.renewDeadline();
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the lease. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.cycle;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity === this.options.identity) {
        const now = microTime(new Date());
        await this.write({ ...lease, spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1, renewTime: now as unknown as Date } });
        this.options.log.info({ lease: this.leaseName() }, 'leader election: lease released');
      }
    } catch (err) {
      this.options.log.warn({ err: errorText(err) }, 'leader election: could not release the lease; another replica takes over once it expires');
    }
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.cycle = this.tryAcquireOrRenew().finally(() => {
        this.cycle = undefined;
        this.schedule(this.options.retryPeriodMs ?? 2000);
      });
    }, ms);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { identity, log } = this.options;
    const now = Date.now();
    try {
      const lease = await this.read();
      const durationMs = this.options.leaseDurationMs ?? 15_000;
      const stamp = microTime(new Date(now)) as unknown as Date;
      if (!lease) {
        await this.api.createNamespacedLease({
          namespace: this.options.namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.options.name, namespace: this.options.namespace },
            spec: { holderIdentity: identity, leaseDurationSeconds: Math.ceil(durationMs / 1000), acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 },
          },
        });
        return this.renewed(now);
      }
      const spec = lease.spec ?? {};
      const rv = lease.metadata?.resourceVersion ?? '';
      if (this.observed?.resourceVersion !== rv) this.observed = { resourceVersion: rv, at: now };
      const holder = spec.holderIdentity;
      const heldByOther = holder && holder !== identity;
      if (heldByOther && now < this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000) {
        if (this.leading) this.setLeading(false);
        return;
      }
      await this.write({
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: Math.ceil(durationMs / 1000),
          renewTime: stamp,
          ...(holder === identity ? {} : { acquireTime: stamp, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
        },
      });
      this.renewed(now);
    } catch (err) {
      // A conflict means another replica wrote first; anything else, the API server is unreachable.
      if (this.leading && !this.isLeader()) this.setLeading(false);
      if ((err as { code?: number }).code !== 409) log.warn({ err: errorText(err), leading: this.leading }, 'leader election: lease not renewed');
    }
  }

  private renewed(at: number): void {
    this.lastRenew = at;
    this.observed = undefined;
    if (!this.leading) this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.log.info({ lease: this.leaseName(), identity: this.options.identity }, leading ? 'leader election: leading; this replica writes' : 'leader election: not leading; this replica only serves xDS');
    (leading ? this.options.onStartedLeading : this.options.onStoppedLeading)?.();
  }

  private renewDeadline(): number {
    return this.options.renewDeadlineMs ?? 10_000;
  }

  private leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  private async write(lease: V1Lease): Promise<void> {
    await this.api.replaceNamespacedLease({ name: this.options.name, namespace: this.options.namespace, body: lease });
  }
}

/**
 * A MicroTime (RFC 3339 with microseconds), which the API server requires for
 * Lease times; client-node would send a Date with milliseconds, which it rejects.
 */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function errorText(err: unknown): string {
  const e = err as { code?: number; body?: unknown; message?: string };
  if (e?.code && e.body) {
    const body = typeof e.body === 'string' ? safeParse(e.body) : e.body;
    return `HTTP ${e.code}: ${(body as { message?: string })?.message ?? String(e.body)}`;
  }
  return e?.message ?? String(err);
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
