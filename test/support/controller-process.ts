/**
 * The controller as its own process (dist/controller/main.js, as the image runs it), for the
 * tests and benchmarks that need the real process: its log lines, its addresses, its exit.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { splitHostPort } from '../../controller/address';
import { packageRoot } from '../../controller/package-root';
import { ProcessLogs } from './process-logs';

export const CONTROLLER_MAIN = path.join(packageRoot(), 'dist/controller/main.js');

export interface ControllerProcess {
  child: ChildProcessWithoutNullStreams;
  logs: ProcessLogs;
  /** `host:port` of ADS and of the admin server, as logged once serving. */
  xds: string;
  admin: string;
  /** The ADS port alone (for an xDS client on 127.0.0.1). */
  xdsPort: number;
  exited: Promise<number | null>;
}

/**
 * Starts the controller with `args` (free loopback ports unless the args name others) and resolves
 * once it logs that it serves; rejects with its stderr if it exits first. `node` options go to Node
 * itself (e.g. `--heapsnapshot-signal=SIGUSR2`), `cwd` is where it runs.
 */
export async function spawnController(args: string[], env: NodeJS.ProcessEnv = process.env, options: { node?: string[]; cwd?: string } = {}): Promise<ControllerProcess> {
  const child = spawn(process.execPath, [...(options.node ?? []), CONTROLLER_MAIN, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...args], { env, cwd: options.cwd });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const logs = new ProcessLogs(child.stdout);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = await logs.first((l) => l.msg === 'wasm-control listening').catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`the controller did not start: ${err.message} ${stderr}`);
  });
  const xds = listening.xds as string;
  return { child, logs, xds, admin: listening.admin as string, xdsPort: splitHostPort(xds)[1], exited };
}

/** The environment of a controller pod whose ServiceAccount token is in `kubeconfig`. */
export function podEnvironment(kubeconfig: string, podName: string, namespace: string): NodeJS.ProcessEnv {
  // KUBERNETES_SERVICE_HOST makes the Kubernetes source the default, as in a pod; KUBECONFIG, which
  // loadFromDefault prefers to the in-cluster files, holds the ServiceAccount's token.
  const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAME: podName, POD_NAMESPACE: namespace, NATS_URL: '' };
  delete env.SOURCE;
  return env;
}

/** One unlabelled metric from the controller's `/metrics` at `admin` (`host:port`). */
export async function metric(admin: string, name: string): Promise<number> {
  const metrics = await (await fetch(`http://${admin}/metrics`)).text();
  const value = new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1];
  if (value === undefined) throw new Error(`no ${name} in ${admin}/metrics`);
  return Number(value);
}
