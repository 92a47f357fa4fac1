/**
 * The controller: a source feeds the pipeline (resolve → translate), whose
 * snapshots the ADS server serves; an admin HTTP server exposes health, metrics
 * and debug views. Bursts of source changes are coalesced into one snapshot.
 */
import * as http from 'node:http';
import type { Logger } from 'pino';
import * as prom from 'prom-client';
import { splitHostPort } from './address';
import { Pipeline, resourceList, type PipelineOutput } from './pipeline';
import type { Source, SourceObjects } from './sources/source';
import { AdsServer } from './xds/server';
import { SnapshotBuilder, type Snapshot } from './xds/snapshot';

export interface ControllerOptions {
  source: Source;
  /** `host:port` for ADS; port 0 picks a free one. */
  xdsAddress: string;
  /** `host:port` for the admin HTTP server; port 0 picks a free one. */
  adminAddress: string;
  log: Logger;
  /**
   * Least time between two resolves (default 100 ms). A change after a quiet
   * spell is resolved at once; changes within the hold-off are coalesced into one
   * resolve at its end, so none waits longer than this.
   */
  holdOffMs?: number;
  /** Called after every resolve with what was resolved and the snapshot now served. */
  onResolved?(objects: SourceObjects, output: PipelineOutput, snapshot: Snapshot): void;
}

export class Controller {
  readonly registry = new prom.Registry();
  readonly ads: AdsServer;
  private readonly pipeline = new Pipeline();
  private readonly builder = new SnapshotBuilder();
  private readonly admin: http.Server;
  private objects?: SourceObjects;
  /** The diagnostics of the last resolve, as logged. */
  private reported = new Set<string>();
  private output?: PipelineOutput;
  private timer?: NodeJS.Timeout;
  private lastResolveAt = -Infinity;
  private readonly metrics;
  xdsPort = 0;
  adminPort = 0;

  constructor(private readonly options: ControllerOptions) {
    const registers = [this.registry];
    this.metrics = {
      // Counted when scraped: open streams by flavour (sotw, delta) and by the resource types they subscribe to.
      streams: new prom.Gauge({
        name: 'wasm_control_xds_streams',
        help: 'Open ADS streams, by mode (sotw, delta) and subscribed resource type',
        labelNames: ['mode', 'type'],
        registers,
        collect: () => this.countStreams(),
      }),
      pushes: new prom.Counter({ name: 'wasm_control_xds_pushes_total', help: 'xDS responses sent', labelNames: ['type'], registers }),
      nacks: new prom.Counter({ name: 'wasm_control_xds_nacks_total', help: 'xDS responses rejected by clients', labelNames: ['type'], registers }),
      resolveSeconds: new prom.Histogram({ name: 'wasm_control_resolve_seconds', help: 'Resolve + translate + encode time', registers }),
      pushSeconds: new prom.Histogram({ name: 'wasm_control_push_seconds', help: 'Time to hand a new snapshot to every open stream', registers }),
      triggers: new prom.Gauge({ name: 'wasm_control_triggers', help: 'HTTPTriggers by state', labelNames: ['state'], registers }),
    };
    const shortType = (t: string) => t.split('.').pop()!;
    this.ads = new AdsServer({
      onPush: (type) => this.metrics.pushes.inc({ type: shortType(type) }),
      onNack: (node, type, version, message) => {
        this.metrics.nacks.inc({ type: shortType(type) });
        options.log.warn({ node, type, version, message }, 'xDS client rejected a config; it is not sent again until the routing changes');
      },
    });
    this.admin = http.createServer((req, res) => void this.serveAdmin(req, res));
  }

  async start(): Promise<void> {
    await this.options.source.start(() => this.schedule());
    // Resolve once the source has its objects (the Kubernetes source lists every kind
    // first), so no client is ever served a partial table; this covers any change
    // reported while starting.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.resolve();
    this.xdsPort = await this.ads.listen(this.options.xdsAddress);
    const [host, port] = splitHostPort(this.options.adminAddress);
    await new Promise<void>((resolve) => this.admin.listen(port, host, resolve));
    this.adminPort = (this.admin.address() as { port: number }).port;
  }

  /** Stops accepting, closes every stream cleanly and the source. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.options.source.close();
    await new Promise<void>((resolve) => this.admin.close(() => resolve()));
    await this.ads.close();
  }

  /**
   * Coalesces changes without delaying a lone one: the first change after a
   * quiet spell is resolved on the next turn of the event loop (with whatever
   * arrived alongside it); later ones wait for the hold-off since the last
   * resolve, and share one resolve. A debounce would add its hold-off to every
   * change's latency, which is most of a 100 ms push budget.
   */
  private schedule(): void {
    if (this.timer) return; // a resolve is already due; it reads this change too
    const holdOff = this.options.holdOffMs ?? 100;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resolve();
    }, Math.max(0, this.lastResolveAt + holdOff - Date.now()));
  }

  private resolve(): void {
    this.lastResolveAt = Date.now();
    const { log } = this.options;
    const end = this.metrics.resolveSeconds.startTimer();
    const objects = this.options.source.read();
    const output = this.pipeline.run(objects);
    const snapshot = this.builder.build(output.envoy);
    end();
    const pushed = this.metrics.pushSeconds.startTimer();
    this.ads.setSnapshot(snapshot);
    pushed();
    // Each problem is logged when it appears (and again only if it goes away and
    // comes back): re-logging every known conflict on every change buries news.
    const reported = new Set<string>();
    for (const d of [...objects.diagnostics, ...output.diagnostics]) {
      const id = JSON.stringify(d);
      reported.add(id);
      if (!this.reported.has(id)) log.error(d, d.message);
    }
    this.reported = reported;
    this.metrics.triggers.set({ state: 'admitted' }, output.model.admitted.length);
    this.metrics.triggers.set({ state: 'skipped' }, objects.triggers.length - output.model.admitted.length);
    this.objects = objects;
    this.output = output;
    log.info({ triggers: output.model.admitted.length, version: snapshot.version }, 'routing updated');
    this.options.onResolved?.(objects, output, snapshot);
  }

  private countStreams(): void {
    const gauge = this.metrics.streams;
    gauge.reset();
    for (const client of this.ads.clients()) {
      gauge.inc({ mode: client.mode, type: 'any' });
      for (const typeUrl of Object.keys(client.types)) gauge.inc({ mode: client.mode, type: typeUrl.split('.').pop()! });
    }
  }

  private async serveAdmin(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const json = (body: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    const snapshot = this.ads.currentSnapshot();
    switch (req.url) {
      case '/healthz':
        return json({ status: 'ok' });
      case '/readyz':
        return snapshot ? json({ status: 'ready', version: snapshot.version }) : json({ status: 'starting' }, 503);
      case '/metrics':
        res.writeHead(200, { 'content-type': this.registry.contentType });
        return void res.end(await this.registry.metrics());
      case '/debug/config_dump':
        return json({
          resources: this.output ? resourceList(this.output.resources) : [],
          diagnostics: [...(this.objects?.diagnostics ?? []), ...(this.output?.diagnostics ?? [])],
        });
      case '/debug/routes': {
        const model = this.output?.model;
        const endpoints = new Map(model?.clusters.map((c) => [c.name, c.endpoints.map((e) => `${e.address}:${e.port}`)]));
        return json(
          (model?.virtualHosts ?? []).flatMap((vh) =>
            vh.routes.map((r) => ({ host: vh.host, path: r.match.path, type: r.match.type, trigger: r.trigger.key, endpoints: endpoints.get(r.cluster) ?? [] })),
          ),
        );
      }
      case '/debug/clients':
        return json(this.ads.clients());
      default:
        return json({ error: 'not found' }, 404);
    }
  }
}
