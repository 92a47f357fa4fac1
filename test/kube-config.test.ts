/**
 * SharedConnectionsKubeConfig against a local HTTPS server: @kubernetes/client-node alone opens a
 * new TLS connection for every request (the reason the class exists; when this stops being true,
 * the class can go); ours reuses them.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { SharedConnectionsKubeConfig } from '../controller/sources/kube-config';

describe('SharedConnectionsKubeConfig', () => {
  let dir: string;
  let server: https.Server;
  let handshakes = 0;
  let kubeconfig: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-kubeconfig-'));
    const file = (name: string) => path.join(dir, name);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-keyout', file('key.pem'), '-out', file('cert.pem'), '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = https.createServer({ key: fs.readFileSync(file('key.pem')), cert: fs.readFileSync(file('cert.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NamespaceList', metadata: {}, items: [] }));
    });
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    kubeconfig = file('kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority': file('cert.pem') } }],
        users: [{ name: 'u', user: { token: 'not-checked' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function handshakesFor(config: KubeConfig, requests: number): Promise<number> {
    config.loadFromFile(kubeconfig);
    const api = config.makeApiClient(CoreV1Api);
    const before = handshakes;
    for (let i = 0; i < requests; i++) await api.listNamespace();
    return handshakes - before;
  }

  it('reuses its connections for sequential requests, where the library alone opens one per request', async () => {
    const shared = new SharedConnectionsKubeConfig();
    // undici may open a second connection while the first response is being read.
    const reused = await handshakesFor(shared, 20);
    assert.ok(reused <= 2, `${reused} TLS handshakes for 20 requests`);
    await shared.closeConnections();
    assert.equal(await handshakesFor(new KubeConfig(), 20), 20, '@kubernetes/client-node now reuses connections itself: SharedConnectionsKubeConfig can go');
  });
});
