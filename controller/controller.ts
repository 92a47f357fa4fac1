/**
 * The controller: a source feeds the pipeline (resolve → translate), whose
 * snapshots the ADS server serves; an admin HTTP server exposes health, metrics
 * and debug views. Bursts of source changes are coalesced into one snapshot.
 */
import * as http from 'node:http';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import * as prom from 'prom-client';
import { isLoopback, splitHostPort } from './address';
import { XDS_TLS_FLAGS } from './cli/flags';
import type { UnlistedHosts } from './api/host-policy';
import { Pipeline, resourceList, type PipelineOutput } from './pipeline';
import type { Source, SourceObjects } from './sources/source';
import { AdsServer, SHUTDOWN_GRACE_MS } from './xds/server';
import { SnapshotBuilder, type Snapshot } from './xds/snapshot';
import { checkXdsTlsFiles, xdsServerCredentials, type XdsTlsFiles } from './xds/tls';

export interface ControllerOptions {
  source: Source;
  /** `host:port` for ADS; port 0 picks a free one. */
  xdsAddress: string;
  /** `host:port` for the admin HTTP server (health, readiness, metrics); port 0 picks a free one. */
  adminAddress: string;
  /**
   * `host:port` for the debug views (`/debug/*`: every route, endpoint and client). Unset: they are
   * served on the admin address too. Set it to a loopback address when the admin address is
   * reachable by others (in a cluster, for probes and Prometheus): `kubectl port-forward` reaches it.
   */
  debugAddress?: string;
  log: Logger;
  /** Whether hosts no HostPolicy names may be claimed from any namespace (default) or from none. */
  unlistedHosts?: UnlistedHosts;
  /** mTLS for ADS (required unless `xdsAddress` is loopback). */
  xdsTls?: XdsTlsFiles;
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
  private readonly pipeline: Pipeline;
  private readonly builder = new SnapshotBuilder();
  private readonly admin: http.Server;
  private readonly debug?: http.Server;
  /** The config dump being written, if any: one at a time, so memory stays bounded. */
  private dumping = false;
  private objects?: SourceObjects;
  /** The diagnostics of the last resolve, as logged. */
  private reported = new Set<string>();
  private output?: PipelineOutput;
  private timer?: NodeJS.Timeout;
  private started = false;
  private lastResolveAt = -Infinity;
  private readonly metrics;
  xdsPort = 0;
  adminPort = 0;
  debugPort = 0;

  constructor(private readonly options: ControllerOptions) {
    this.pipeline = new Pipeline({ unlistedHosts: options.unlistedHosts });
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
      onUnknownType: (node, type) => options.log.warn({ node, type }, 'xDS client asked for a type this server does not serve; it gets no answer for it'),
      onRefused: (node, reason) => options.log.warn({ node, reason }, 'xDS stream closed by the server'),
      onClientConnected: (node, mode, peer) => options.log.info({ node, mode, peer: peer.address, certificate: peer.certificate }, 'xDS client connected'),
    });
    // RSS, heap, event-loop lag and GC next to ours.
    prom.collectDefaultMetrics({ register: this.registry });
    this.admin = http.createServer((req, res) => void this.serveAdmin(req, res, !options.debugAddress));
    if (options.debugAddress) this.debug = http.createServer((req, res) => void this.serveAdmin(req, res, true));
  }

  async start(): Promise<void> {
    // Certificates first: a bad file is named before anything is listed.
    const { credentials, loaded } = this.xdsCredentials();
    await this.options.source.start(() => this.schedule());
    // Resolve once the source has its objects (the Kubernetes source lists every kind
    // first), so no client is ever served a partial table and the reconciler never acts
    // on a half-listed cluster; this covers every change reported while starting.
    this.started = true;
    this.resolve();
    this.xdsPort = await this.ads.listen(this.options.xdsAddress, credentials).catch((err: Error) => {
      throw new Error(`cannot serve xDS on ${this.options.xdsAddress}: ${err.message}; give another address with --xds-address`);
    });
    // Listening, but refusing handshakes until the files are read: not ready before that.
    await loaded;
    this.adminPort = await listen(this.admin, this.options.adminAddress, '--admin-address');
    if (this.debug) this.debugPort = await listen(this.debug, this.options.debugAddress!, '--debug-address');
  }

  /** mTLS when configured; plaintext only where nothing but this machine can connect. */
  private xdsCredentials(): { credentials?: grpc.ServerCredentials; loaded?: Promise<void> } {
    const { xdsTls, xdsAddress, log } = this.options;
    if (xdsTls) {
      checkXdsTlsFiles(xdsTls);
      log.info({ cert: xdsTls.certFile, clientCa: xdsTls.clientCaFile }, 'xDS over mutual TLS: clients need a certificate from the client CA');
      return xdsServerCredentials(xdsTls, {
        onProblem: (problem) => log.error({ problem }, 'xDS TLS files unusable; new connections get the last good ones'),
        onRenewed: (what, notAfter) => log.info({ what, notAfter }, 'xDS TLS: renewed files in use for new connections'),
      });
    }
    if (!isLoopback(splitHostPort(xdsAddress)[0])) {
      throw new Error(
        `--xds-address ${xdsAddress} is reachable from other machines, and xDS without TLS would give every route and endpoint to whoever connects: ` +
          `give ${Object.values(XDS_TLS_FLAGS).join(', ')} (the ControlPlane mounts them), or listen on 127.0.0.1`,
      );
    }
    log.warn({ xds: xdsAddress }, `xDS in plaintext, on loopback only: give ${Object.values(XDS_TLS_FLAGS).join(', ')} to serve other machines`);
    return {};
  }

  /** Stops accepting, closes every stream cleanly and the source. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    await this.options.source.close();
    await Promise.all([closeHttp(this.admin), this.debug ? closeHttp(this.debug) : undefined, this.ads.close()]);
  }

  /**
   * Coalesces changes without delaying a lone one: the first change after a
   * quiet spell is resolved on the next turn of the event loop (with whatever
   * arrived alongside it); later ones wait for the hold-off since the last
   * resolve, and share one resolve. A debounce would add its hold-off to every
   * change's latency, which is most of a 100 ms push budget.
   */
  private schedule(): void {
    if (!this.started || this.timer) return; // start() resolves once listed; or a resolve is due and reads this change too
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

  /** Health, readiness and metrics; the debug views too where `withDebug` (see `debugAddress`). */
  private async serveAdmin(req: http.IncomingMessage, res: http.ServerResponse, withDebug: boolean): Promise<void> {
    const json = (body: unknown, status = 200) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return json({ error: `${req.method} is not allowed: the admin endpoints are read-only (GET)` }, 405);
    }
    // Query strings change nothing here.
    const pathname = new URL(req.url ?? '/', 'http://admin').pathname;
    const snapshot = this.ads.currentSnapshot();
    if (pathname.startsWith('/debug/') && !withDebug) {
      return json({ error: `the debug views are served on ${splitHostPort(this.options.debugAddress!)[0]}:${this.debugPort} only (kubectl port-forward reaches it)` }, 404);
    }
    switch (pathname) {
      case '/healthz':
        return json({ status: 'ok' });
      case '/readyz':
        return snapshot ? json({ status: 'ready', version: snapshot.version }) : json({ status: 'starting' }, 503);
      case '/metrics':
        res.writeHead(200, { 'content-type': this.registry.contentType });
        return void res.end(await this.registry.metrics());
      case '/debug/config_dump':
        if (this.dumping) {
          res.setHeader('retry-after', '1');
          return json({ error: 'a config dump is being written; retry when it is done' }, 503);
        }
        this.dumping = true;
        try {
          return await writeConfigDump(res, this.output ? resourceList(this.output.resources) : [], [...(this.objects?.diagnostics ?? []), ...(this.output?.diagnostics ?? [])]);
        } catch (err) {
          if (!(err instanceof DumpAbandoned)) throw err;
        } finally {
          this.dumping = false;
        }
        return;
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

/** Listens on `host:port`; a port in use or a bad address becomes one clear line naming the flag. */
async function listen(server: http.Server, address: string, flag: string): Promise<number> {
  const [host, port] = splitHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${address} (${err.code ?? err.message})${err.code === 'EADDRINUSE' ? ': another process uses it' : ''}; give another address with ${flag}`)),
    );
    server.listen(port, host, resolve);
  });
  return (server.address() as { port: number }).port;
}

/** Stops accepting; idle connections close at once, busy ones (a slow reader) after the xDS shutdown grace. */
async function closeHttp(server: http.Server): Promise<void> {
  const cut = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
  clearTimeout(cut);
}

/**
 * Writes `{ resources, diagnostics }` as JSON piece by piece: a resource at a time, and a large list
 * inside one (a RouteConfiguration's virtual hosts) an item at a time, yielding to the event loop
 * and waiting for the client to read. At 10k triggers the document is ~25 MB: built in one go it
 * blocked the event loop for most of a second and held several copies in memory.
 */
async function writeConfigDump(res: http.ServerResponse, resources: unknown[], diagnostics: unknown[]): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  let written = 0;
  const write = async (chunk: string) => {
    // A client that went away stops the dump (and frees the slot for the next one).
    if (res.destroyed) throw new DumpAbandoned();
    written += chunk.length;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    } else if (written > DUMP_YIELD_BYTES) {
      written = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await write('{"resources":[');
  for (const [i, resource] of resources.entries()) {
    if (i > 0) await write(',');
    await writeStreamed(resource, write);
  }
  await write(`],"diagnostics":${JSON.stringify(diagnostics)}}\n`);
  res.end();
}

const DUMP_YIELD_BYTES = 256 * 1024;

class DumpAbandoned extends Error {}

/** An object whose long array fields are written item by item; anything else in one piece. */
async function writeStreamed(value: unknown, write: (chunk: string) => Promise<void>): Promise<void> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return write(JSON.stringify(value));
  await write('{');
  let first = true;
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    await write(`${first ? '' : ','}${JSON.stringify(key)}:`);
    first = false;
    if (Array.isArray(field) && field.length > 64) {
      await write('[');
      for (const [i, item] of field.entries()) await write(`${i > 0 ? ',' : ''}${JSON.stringify(item)}`);
      await write(']');
    } else {
      await write(JSON.stringify(field));
    }
  }
  await write('}');
}
