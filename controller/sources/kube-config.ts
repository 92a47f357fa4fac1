/**
 * A KubeConfig whose requests share connections.
 *
 * @kubernetes/client-node 2.0 builds a new undici Agent for every request
 * (`applySecurityAuthentication` → `createDispatcher`, used by the generated API clients and by
 * `Watch`), so every call opened a new connection and did a full TLS handshake, and the agents were
 * never closed: at 10k triggers, most of the controller's CPU and the API server's went into
 * handshakes, and thousands of idle sockets lingered. This one keeps the Agent for the same TLS
 * material (server, CA, client certificate and key, server name) and hands it out again; when
 * rotated files change the material, the next request gets a new Agent and the old one closes
 * once its requests are done.
 */
import { createHash } from 'node:crypto';
import { KubeConfig, type Cluster } from '@kubernetes/client-node';
import type { AgentOptions } from 'node:https';

interface Closable {
  close(): Promise<void>;
}

type CreateDispatcher = (cluster: Cluster | null, options: AgentOptions) => Closable | undefined;

export class SharedConnectionsKubeConfig extends KubeConfig {
  private shared?: { key: string; dispatcher: Closable | undefined };

  constructor() {
    super();
    // Private in the typings; applySecurityAuthentication calls it on the instance.
    const create = (KubeConfig.prototype as unknown as { createDispatcher: CreateDispatcher }).createDispatcher;
    (this as unknown as { createDispatcher: CreateDispatcher }).createDispatcher = (cluster, options) => {
      const key = tlsMaterialKey(cluster, options);
      if (this.shared?.key !== key) {
        void this.shared?.dispatcher?.close().catch(() => undefined);
        this.shared = { key, dispatcher: create.call(this, cluster, options) };
      }
      return this.shared.dispatcher;
    };
  }

  /** Closes the shared connections (the process is stopping). */
  async closeConnections(): Promise<void> {
    const dispatcher = this.shared?.dispatcher;
    this.shared = undefined;
    await dispatcher?.close().catch(() => undefined);
  }
}

function tlsMaterialKey(cluster: Cluster | null, options: AgentOptions): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([cluster?.server, cluster?.proxyUrl, options.servername, options.rejectUnauthorized, options.passphrase]));
  for (const part of [options.ca, options.cert, options.key, options.pfx]) {
    hash.update('|');
    if (part !== undefined) hash.update(typeof part === 'string' || Buffer.isBuffer(part) ? part : JSON.stringify(part));
  }
  return hash.digest('hex');
}
