/**
 * The controller's entry point: `npm start` (file mode on examples/ by default),
 * or `node dist/controller/main.js` in the container image.
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { splitHostPort } from './address';
import { Controller } from './controller';
import { KubernetesController } from './reconcile/kubernetes-mode';
import { FileSource } from './sources/files';

const USAGE = `usage: node dist/controller/main.js [options]
  --source files|kubernetes   where objects come from (env SOURCE; default kubernetes in a cluster, else files)
  --manifests <path>          files mode: manifest file or folder, repeatable (env MANIFESTS, comma-separated; default examples/)
  --rescan-interval <seconds> files mode: re-scan the manifests this often besides watching them, 0 for never (env RESCAN_INTERVAL; default 10)
  --namespaces <a,b>          kubernetes mode: namespaces to watch (env NAMESPACES; default all). Uses the in-cluster
                              service account, else KUBECONFIG or ~/.kube/config like kubectl
  --nats-url <url>            kubernetes mode: the runtime's NATS, for host heartbeats and the placement check (env NATS_URL;
                              mTLS from NATS_CA_FILE, NATS_CERT_FILE, NATS_KEY_FILE)
  --leader-election-namespace <ns>  namespace of the Lease (env POD_NAMESPACE; default the kubeconfig's namespace)
  --xds-address <host:port>   ADS gRPC address (env XDS_ADDRESS; default 127.0.0.1:18000)
  --admin-address <host:port> admin HTTP address (env ADMIN_ADDRESS; default 127.0.0.1:9902)
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
      'xds-address': { type: 'string' },
      'admin-address': { type: 'string' },
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
  const xdsAddress = values['xds-address'] ?? process.env.XDS_ADDRESS ?? '127.0.0.1:18000';
  const adminAddress = values['admin-address'] ?? process.env.ADMIN_ADDRESS ?? '127.0.0.1:9902';
  const withPort = (address: string, port: number) => `${splitHostPort(address)[0]}:${port}`;
  if (sourceKind === 'kubernetes') {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromDefault();
    const natsUrl = values['nats-url'] ?? process.env.NATS_URL;
    const running = new KubernetesController({
      kubeConfig,
      log,
      xdsAddress,
      adminAddress,
      namespaces: (values.namespaces ?? process.env.NAMESPACES)?.split(',').map((n) => n.trim()).filter((n) => n !== ''),
      identity: process.env.POD_NAME ?? `${os.hostname()}-${process.pid}`,
      leaderElection: {
        namespace: values['leader-election-namespace'] ?? process.env.POD_NAMESPACE ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default',
        name: 'wasm-control-controller',
      },
      nats: natsUrl
        ? { url: natsUrl, tls: { caFile: process.env.NATS_CA_FILE, certFile: process.env.NATS_CERT_FILE, keyFile: process.env.NATS_KEY_FILE } }
        : undefined,
    });
    log.info({ server: kubeConfig.getCurrentCluster()?.server }, 'kubernetes source: waiting for the first list of every kind before serving');
    await running.start();
    const { controller } = running;
    log.info({ xds: withPort(xdsAddress, controller.xdsPort), admin: withPort(adminAddress, controller.adminPort), source: 'kubernetes' }, 'wasm-control listening');
    process.once('SIGTERM', () => {
      log.info('SIGTERM: releasing the lease and closing streams');
      running.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
    return;
  }
  const manifests = values.manifests ?? process.env.MANIFESTS?.split(',') ?? ['examples/'];
  const rescan = values['rescan-interval'] ?? process.env.RESCAN_INTERVAL ?? '10';
  if (!/^\d+(\.\d+)?$/.test(rescan)) throw new Error(`--rescan-interval ${rescan}: give seconds, e.g. 10 (0 turns the re-scan off)`);
  const controller = new Controller({
    source: new FileSource(manifests, (file, reason) => log.error({ file, reason }, 'manifest file skipped; its last good content is kept'), {
      rescanMs: Number(rescan) * 1000,
    }),
    xdsAddress,
    adminAddress,
    log,
  });
  await controller.start();
  log.info({ xds: withPort(xdsAddress, controller.xdsPort), admin: withPort(adminAddress, controller.adminPort), manifests }, 'wasm-control listening');
  process.once('SIGTERM', () => {
    log.info('SIGTERM: closing streams');
    controller.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err) => {
  process.stderr.write(`wasm-control: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
