/**
 * The controller in a cluster: the Kubernetes source feeding the pipeline and
 * ADS server, the reconciler writing deployments and status while this replica
 * leads, and (with a NATS URL) host heartbeats for the placement check. Used by
 * main.ts and, with a test API server, by the tests.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { UnlistedHosts } from '../api/host-policy';
import { Controller } from '../controller';
import { HeartbeatMonitor, type HeartbeatOptions } from '../placement/heartbeats';
import { KubernetesSource } from '../sources/kubernetes';
import type { XdsTlsFiles } from '../xds/tls';
import { LeaderElector, type LeaderElectionOptions } from './leader';
import { Reconciler, type ReconcilerOptions } from './reconciler';

export interface KubernetesModeOptions {
  kubeConfig: KubeConfig;
  log: Logger;
  xdsAddress: string;
  adminAddress: string;
  debugAddress?: string;
  namespaces?: readonly string[];
  /** Names this replica in the Lease and in Events. */
  identity: string;
  leaderElection: Pick<LeaderElectionOptions, 'namespace' | 'name' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  nats?: Pick<HeartbeatOptions, 'url' | 'tls' | 'settleMs'>;
  backoff?: { initialMs: number; maxMs: number };
  resyncMs?: number;
  /** Write workers and the client-side rate limit (see ReconcilerOptions). */
  reconcile?: Pick<ReconcilerOptions, 'workers' | 'rateLimit'>;
  holdOffMs?: number;
  /** Whether hosts no HostPolicy names may be claimed from any namespace (default) or from none. */
  unlistedHosts?: UnlistedHosts;
  /** mTLS for ADS (see ControllerOptions). */
  xdsTls?: XdsTlsFiles;
}

export class KubernetesController {
  readonly source: KubernetesSource;
  readonly elector: LeaderElector;
  readonly reconciler: Reconciler;
  readonly heartbeats?: HeartbeatMonitor;
  readonly controller: Controller;
  private readonly log: Logger;

  constructor(options: KubernetesModeOptions) {
    const { kubeConfig, log } = options;
    this.log = log;
    this.source = new KubernetesSource({ kubeConfig, namespaces: options.namespaces, log, backoff: options.backoff, onStoredChange: (kind, key) => this.reconciler.touch(kind, key) });
    if (options.nats) {
      this.heartbeats = new HeartbeatMonitor({ ...options.nats, log, onChange: () => this.reconciler.kick() });
    } else {
      log.info('no --nats-url: the interface-aware placement check is off (Placeable is not reported)');
    }
    this.elector = new LeaderElector({
      ...options.leaderElection,
      kubeConfig,
      identity: options.identity,
      log,
      onStartedLeading: () => this.reconciler.leadershipChanged(),
      onStoppedLeading: () => this.reconciler.leadershipChanged(),
    });
    this.reconciler = new Reconciler({
      kubeConfig,
      store: this.source,
      isLeader: () => this.elector.isLeader(),
      log,
      identity: options.identity,
      heartbeats: this.heartbeats,
      resyncMs: options.resyncMs,
      ...options.reconcile,
    });
    this.controller = new Controller({
      source: this.source,
      xdsAddress: options.xdsAddress,
      adminAddress: options.adminAddress,
      debugAddress: options.debugAddress,
      log,
      holdOffMs: options.holdOffMs,
      unlistedHosts: options.unlistedHosts,
      xdsTls: options.xdsTls,
      onResolved: (objects, output) => this.reconciler.update(objects, output),
    });
  }

  /** Resolves once every kind has been listed and ADS is serving. NATS connects in the background. */
  async start(): Promise<void> {
    void this.heartbeats?.start().catch((err: Error) => this.log.error({ err: err.message }, 'NATS: cannot read heartbeats'));
    this.elector.start();
    await this.controller.start();
  }

  async close(): Promise<void> {
    await this.reconciler.close();
    await this.elector.close();
    await this.controller.close();
    await this.heartbeats?.close();
  }
}
