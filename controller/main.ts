/**
 * The controller's entry point: `npm start` (file mode on examples/ by default),
 * or `node dist/controller/main.js` in the container image.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { CONTROLLER_PORTS, isLoopback, splitHostPort } from './address';
import { unlistedHostsSetting } from './api/host-policy';
import { allOrNone, XDS_TLS_FLAGS } from './cli/flags';
import { Controller } from './controller';
import { KubernetesController } from './reconcile/kubernetes-mode';
import { DEFAULT_WORKERS } from './reconcile/reconciler';
import { FileSource } from './sources/files';
import { SharedConnectionsKubeConfig } from './sources/kube-config';
import type { XdsTlsFiles } from './xds/tls';

const USAGE = `usage: node dist/controller/main.js [options]
  --source files|kubernetes   where objects come from (env SOURCE; default kubernetes in a cluster, else files)
  --manifests <path>          files mode: manifest file or folder, repeatable (env MANIFESTS, comma-separated; default examples/)
  --rescan-interval <seconds> files mode: re-scan the manifests this often besides watching them, 0 for never (env RESCAN_INTERVAL; default 10)
  --namespaces <a,b>          kubernetes mode: namespaces to watch (env NAMESPACES; default all). Uses the in-cluster
                              service account, else KUBECONFIG or ~/.kube/config like kubectl
  --nats-url <url>            kubernetes mode: the runtime's NATS, for host heartbeats and the placement check (env NATS_URL;
                              mTLS from NATS_CA_FILE, NATS_CERT_FILE, NATS_KEY_FILE)
  --leader-election-namespace <ns>  namespace of the Lease (env POD_NAMESPACE; default the kubeconfig's namespace)
  --reconcile-workers <n>     kubernetes mode: triggers whose WorkloadDeployment, status and Events are written at once
                              (env RECONCILE_WORKERS; default 16)
  --kube-api-qps <n>          kubernetes mode: client-side limit on writes per second, 0 for none (env KUBE_API_QPS;
                              default 0, as controller-runtime: the API server's priority and fairness limits us)
  --kube-api-burst <n>        kubernetes mode: writes allowed at once above --kube-api-qps (env KUBE_API_BURST; default 2 × qps)
  --unlisted-hosts allow|deny whether an HTTPTrigger may claim a host no HostPolicy names, from any namespace (allow)
                              or from none (deny) (env UNLISTED_HOSTS; default allow)
  --xds-address <host:port>   ADS gRPC address (env XDS_ADDRESS; default 127.0.0.1:${CONTROLLER_PORTS.xds}); without the three
                              files below it must be a loopback address
  --xds-tls-cert <file>       mTLS for ADS: the server certificate (PEM), its key and the CA client certificates must come
  --xds-tls-key <file>        from (env XDS_TLS_CERT, XDS_TLS_KEY, XDS_TLS_CLIENT_CA); re-read every 10 s, so a renewed
  --xds-tls-client-ca <file>  Secret is picked up without a restart
  --admin-address <host:port> admin HTTP address: /healthz, /readyz, /metrics (env ADMIN_ADDRESS; default 127.0.0.1:${CONTROLLER_PORTS.admin})
  --debug-address <host:port> the /debug/* views (env DEBUG_ADDRESS; default: the admin address when that is loopback,
                              else 127.0.0.1:${CONTROLLER_PORTS.debug}, which kubectl port-forward reaches and other pods do not)
  --shutdown-timeout <seconds> on SIGTERM, exit after at most this long (env SHUTDOWN_TIMEOUT; default 20, below
                              Kubernetes' 30 s grace period)
  --log-level <level>         pino level (env LOG_LEVEL; default info)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      source: { type: 'string' },
      manifests: { type: 'string', multiple: true },
      'rescan-interval': { type: 'string' },
      namespaces: { type: 'string' },
      'nats-url': { type: 'string' },
      'leader-election-namespace': { type: 'string' },
      'reconcile-workers': { type: 'string' },
      'kube-api-qps': { type: 'string' },
      'kube-api-burst': { type: 'string' },
      'unlisted-hosts': { type: 'string' },
      'xds-address': { type: 'string' },
      'xds-tls-cert': { type: 'string' },
      'xds-tls-key': { type: 'string' },
      'xds-tls-client-ca': { type: 'string' },
      'admin-address': { type: 'string' },
      'debug-address': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sourceKind = values.source ?? process.env.SOURCE ?? (process.env.KUBERNETES_SERVICE_HOST ? 'kubernetes' : 'files');
  if (sourceKind !== 'files' && sourceKind !== 'kubernetes') throw new Error(`--source ${sourceKind}: use files or kubernetes`);
  const log = pino({ level: values['log-level'] ?? process.env.LOG_LEVEL ?? 'info' });
  const xdsAddress = values['xds-address'] ?? process.env.XDS_ADDRESS ?? `127.0.0.1:${CONTROLLER_PORTS.xds}`;
  const adminAddress = values['admin-address'] ?? process.env.ADMIN_ADDRESS ?? `127.0.0.1:${CONTROLLER_PORTS.admin}`;
  const debugAddress = values['debug-address'] ?? process.env.DEBUG_ADDRESS ?? (isLoopback(splitHostPort(adminAddress)[0]) ? undefined : `127.0.0.1:${CONTROLLER_PORTS.debug}`);
  const unlistedHosts = unlistedHostsSetting('--unlisted-hosts', values['unlisted-hosts'] ?? process.env.UNLISTED_HOSTS ?? 'allow');
  const tls = {
    certFile: values['xds-tls-cert'] ?? process.env.XDS_TLS_CERT,
    keyFile: values['xds-tls-key'] ?? process.env.XDS_TLS_KEY,
    clientCaFile: values['xds-tls-client-ca'] ?? process.env.XDS_TLS_CLIENT_CA,
  };
  const tlsGiven = allOrNone(
    { [XDS_TLS_FLAGS.certFile]: tls.certFile, [XDS_TLS_FLAGS.keyFile]: tls.keyFile, [XDS_TLS_FLAGS.clientCaFile]: tls.clientCaFile },
    'mTLS for xDS needs the certificate, its key and the client CA',
  );
  const xdsTls = tlsGiven ? (tls as XdsTlsFiles) : undefined;
  const shutdownSeconds = seconds('--shutdown-timeout', values['shutdown-timeout'] ?? process.env.SHUTDOWN_TIMEOUT ?? '20');
  const withPort = (address: string, port: number) => `${splitHostPort(address)[0]}:${port}`;
  const addresses = (c: Controller) => ({
    xds: withPort(xdsAddress, c.xdsPort),
    admin: withPort(adminAddress, c.adminPort),
    ...(debugAddress ? { debug: withPort(debugAddress, c.debugPort) } : {}),
  });
  /** SIGTERM: close cleanly, but exit within the deadline whatever a client does. */
  const onSigterm = (what: string, close: () => Promise<void>) =>
    process.once('SIGTERM', () => {
      log.info(`SIGTERM: ${what}`);
      setTimeout(() => {
        log.warn({ shutdownTimeoutSeconds: shutdownSeconds }, 'shutdown deadline passed; exiting');
        process.exit(1);
      }, shutdownSeconds * 1000).unref();
      close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  if (sourceKind === 'kubernetes') {
    // The flags first: a mistyped one is named before any kubeconfig is read.
    const qps = count('--kube-api-qps', values['kube-api-qps'] ?? process.env.KUBE_API_QPS ?? '0');
    const burst = count('--kube-api-burst', values['kube-api-burst'] ?? process.env.KUBE_API_BURST ?? String(2 * qps));
    const workers = count('--reconcile-workers', values['reconcile-workers'] ?? process.env.RECONCILE_WORKERS ?? String(DEFAULT_WORKERS));
    if (workers < 1) throw new Error(`--reconcile-workers ${workers}: give at least 1`);
    const kubeConfig = new SharedConnectionsKubeConfig();
    kubeConfig.loadFromDefault();
    const natsUrl = values['nats-url'] ?? process.env.NATS_URL;
    const running = new KubernetesController({
      kubeConfig,
      log,
      xdsAddress,
      adminAddress,
      debugAddress,
      namespaces: (values.namespaces ?? process.env.NAMESPACES)?.split(',').map((n) => n.trim()).filter((n) => n !== ''),
      identity: process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`,
      leaderElection: {
        namespace: values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default',
        name: 'wasm-control-controller',
      },
      unlistedHosts,
      xdsTls,
      reconcile: { workers, ...(qps > 0 ? { rateLimit: { qps, burst: Math.max(1, burst) } } : {}) },
      nats: natsUrl
        ? { url: natsUrl, tls: { caFile: process.env.NATS_CA_FILE, certFile: process.env.NATS_CERT_FILE, keyFile: process.env.NATS_KEY_FILE } }
        : undefined,
    });
    log.info({ server: kubeConfig.getCurrentCluster()?.server }, 'kubernetes source: waiting for the first list of every kind before serving');
    await running.start();
    const { controller } = running;
    log.info({ ...addresses(controller), source: 'kubernetes' }, 'wasm-control listening');
    onSigterm('releasing the lease and closing streams', async () => {
      await running.close();
      await kubeConfig.closeConnections();
    });
    // The watches keep the objects current: there is nothing to re-read.
    process.on('SIGHUP', () => log.info('SIGHUP ignored: in kubernetes mode the watches keep every object current'));
    return;
  }
  const manifests = values.manifests ?? process.env.MANIFESTS?.split(',') ?? ['examples/'];
  const rescanSeconds = seconds('--rescan-interval', values['rescan-interval'] ?? process.env.RESCAN_INTERVAL ?? '10');
  const source = new FileSource(manifests, (file, reason) => log.error({ file, reason }, 'manifest file skipped; its last good content is kept'), {
    rescanMs: rescanSeconds * 1000,
  });
  const controller = new Controller({ source, xdsAddress, adminAddress, debugAddress, log, unlistedHosts, xdsTls });
  await controller.start();
  log.info({ ...addresses(controller), manifests }, 'wasm-control listening');
  onSigterm('closing streams', () => controller.close());
  process.on('SIGHUP', () => {
    log.info('SIGHUP: re-reading the manifests');
    source.rescanNow(true);
  });
}

/** A flag's value in seconds (0 or more); a clear error otherwise. */
function seconds(flag: string, value: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`${flag} ${value}: give seconds, e.g. 10`);
  return Number(value);
}

/** A flag's value as a whole number (0 or more); a clear error otherwise. */
function count(flag: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`${flag} ${value}: give a whole number, e.g. 16`);
  return Number(value);
}

main().catch((err) => {
  process.stderr.write(`wasm-control: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
