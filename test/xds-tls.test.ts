/**
 * xDS over mutual TLS: only a client with a certificate from the client CA gets
 * the routes; renewed files are picked up without dropping open streams; and
 * without certificates the server listens on loopback only.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Controller } from '../controller/controller';
import { TypeUrl } from '../controller/envoy/protos';
import { ROUTE_CONFIG_NAME } from '../controller/envoy/translate';
import type { XdsTlsFiles } from '../controller/xds/tls';
import { AdsClient, sotwAck } from './support/ads-client';
import { TestSource } from './support/test-source';
import { eventually } from './support/eventually';
import { trigger } from './support/fixtures';
import { clientCredentials, xdsPki, type IssuedFiles, type TestCa, type XdsPki } from './support/pki';

/** A CA's certificates: the server's for 127.0.0.1 and localhost, the client's with a SPIFFE ID the log shows. */
const pki = (dir: string, name: string) => xdsPki(dir, name, ['IP:127.0.0.1', 'DNS:localhost'], ['URI:spiffe://wasm-control/envoy']);

const unavailable = (err: Error & { code?: number }) => err.code === grpc.status.UNAVAILABLE;

const credentials = (serverCa: TestCa, client?: IssuedFiles) => clientCredentials(serverCa.cert, client);

describe('xDS over mutual TLS', function () {
  this.timeout(30_000);
  let dir: string;
  let first: XdsPki;
  let other: XdsPki;
  let tls: XdsTlsFiles;
  let source: TestSource;
  let controller: Controller;
  const logs: Record<string, unknown>[] = [];
  const clients: AdsClient[] = [];

  /** The names of the listeners a client is sent, or the error its stream fails with. */
  async function listeners(client: AdsClient, nodeId = 'envoy-1'): Promise<string[]> {
    const stream = client.sotw();
    stream.send({ type_url: TypeUrl.Listener, node: { id: nodeId } });
    const response = await stream.next(3000);
    return response.resources.map((r) => r.name);
  }

  const connect = (options: ConstructorParameters<typeof AdsClient>[1]) => {
    const client = new AdsClient(controller.xdsPort, { ownConnection: true, serverName: 'localhost', ...options });
    clients.push(client);
    return client;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xds-tls-'));
    [first, other] = await Promise.all([pki(dir, 'first'), pki(dir, 'other')]);
    // The files the controller reads, laid out and replaced as a Secret volume's are.
    install(filesOf(first));
    for (const name of ['tls.crt', 'tls.key', 'ca.crt']) fs.symlinkSync(`..data/${name}`, path.join(dir, 'volume', name));
    tls = { certFile: path.join(dir, 'volume/tls.crt'), keyFile: path.join(dir, 'volume/tls.key'), clientCaFile: path.join(dir, 'volume/ca.crt'), refreshMs: 100 };
    source = new TestSource([trigger('hello', { host: 'hello.example.com' })]);
    const log = pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line)) });
    controller = new Controller({ source, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', log, xdsTls: tls });
    await controller.start();
  });

  after(async () => {
    for (const c of clients) c.close();
    await controller?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let generation = 0;
  /** Puts a set of files in place the way the kubelet updates a Secret volume: a new folder, then one symlink swapped. */
  function install(files: { cert: string; key: string; ca: string }): void {
    const folder = `..${++generation}`;
    fs.mkdirSync(path.join(dir, 'volume', folder), { recursive: true });
    for (const [from, name] of [[files.cert, 'tls.crt'], [files.key, 'tls.key'], [files.ca, 'ca.crt']]) fs.copyFileSync(from, path.join(dir, 'volume', folder, name));
    fs.symlinkSync(folder, path.join(dir, 'volume', '..data_tmp'));
    fs.renameSync(path.join(dir, 'volume', '..data_tmp'), path.join(dir, 'volume', '..data'));
  }
  const filesOf = (p: XdsPki) => ({ cert: p.server.cert, key: p.server.key, ca: p.ca.cert });

  it('serves a client with a certificate from the client CA, and logs who it is per stream', async () => {
    const names = await listeners(connect({ credentials: credentials(first.ca, first.client) }), 'envoy-known');
    assert.ok(names.length > 0);
    const line = logs.find((l) => l.msg === 'xDS client connected' && l.node === 'envoy-known');
    assert.ok(line, 'a log line for the stream');
    assert.match(String(line.certificate), /CN=wasm-control-envoy, URI:spiffe:\/\/wasm-control\/envoy/);
    assert.match(String(line.peer), /^127\.0\.0\.1:\d+$/);
    assert.ok(logs.some((l) => l.msg === 'xDS over mutual TLS: clients need a certificate from the client CA'));
  });

  it('refuses a client without a certificate, one from another CA, and one in plaintext', async () => {
    for (const [what, options] of [
      ['no certificate', { credentials: credentials(first.ca) }],
      ['another CA\'s certificate', { credentials: credentials(first.ca, other.client) }],
      ['plaintext', {}],
    ] as const) {
      await assert.rejects(listeners(connect(options)), unavailable, what);
    }
  });

  it('picks up renewed files without dropping the streams already open', async () => {
    const open = connect({ credentials: credentials(first.ca, first.client) }).sotw();
    // The route table, which a new trigger changes.
    open.send({ type_url: TypeUrl.RouteConfiguration, resource_names: [ROUTE_CONFIG_NAME], node: { id: 'envoy-long-lived' } });
    const before = await open.next();
    open.send(sotwAck(before, [ROUTE_CONFIG_NAME]));
    install(filesOf(other));
    // New connections now need the other CA's certificates, and get the other CA's server certificate.
    await eventually(async () => assert.ok((await listeners(connect({ credentials: credentials(other.ca, other.client) }))).length > 0), 5000, 'the renewed files in use');
    await assert.rejects(listeners(connect({ credentials: credentials(other.ca, first.client) })), unavailable, 'the old client CA is no longer trusted');
    assert.deepEqual(logs.filter((l) => l.msg === 'xDS TLS: renewed files in use for new connections').map((l) => l.what).sort(), ['certificate', 'client CA']);
    // The stream opened before still gets updates.
    source.set([trigger('hello', { host: 'hello.example.com' }), trigger('later', { host: 'later.example.com' })]);
    const after = await open.next();
    assert.notEqual(after.version_info, before.version_info);
  });

  it('keeps the last good files when an update is unusable (a key that is not the certificate\'s), and says so once', async () => {
    install({ cert: first.server.cert, key: other.server.key, ca: first.ca.cert });
    await eventually(
      async () => assert.ok(logs.some((l) => l.msg === 'xDS TLS files unusable; new connections get the last good ones' && /tls\.key: is not the key of the certificate in .*tls\.crt/.test(String(l.problem)))),
      5000,
      'the problem reported',
    );
    // Still the other CA's files, from the test before.
    assert.ok((await listeners(connect({ credentials: credentials(other.ca, other.client) }))).length > 0);
    await new Promise((resolve) => setTimeout(resolve, 3 * (tls.refreshMs ?? 0)));
    assert.equal(logs.filter((l) => l.msg === 'xDS TLS files unusable; new connections get the last good ones').length, 1, 'reported once, not on every read');
    install(filesOf(first));
    await eventually(async () => assert.ok((await listeners(connect({ credentials: credentials(first.ca, first.client) }))).length > 0), 5000, 'good files taken again');
  });
});

describe('xDS without TLS', () => {
  it('refuses to listen beyond loopback, naming the flags that would make it safe', async () => {
    const controller = new Controller({ source: new TestSource([]), xdsAddress: '0.0.0.0:0', adminAddress: '127.0.0.1:0', log: pino({ level: 'silent' }) });
    await assert.rejects(controller.start(), /--xds-address 0\.0\.0\.0:0 is reachable from other machines.*give --xds-tls-cert, --xds-tls-key, --xds-tls-client-ca/);
    await controller.close();
  });

  it('names the file when a certificate cannot be read or the key is not its own', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xds-tls-bad-'));
    try {
      const [a, b] = await Promise.all([pki(dir, 'a'), pki(dir, 'b')]);
      const start = (files: XdsTlsFiles) => new Controller({ source: new TestSource([]), xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', log: pino({ level: 'silent' }), xdsTls: files }).start();
      await assert.rejects(start({ certFile: path.join(dir, 'missing.crt'), keyFile: a.server.key, clientCaFile: a.ca.cert }), /--xds-tls-cert .*missing\.crt: cannot read it \(ENOENT\)/);
      await assert.rejects(start({ certFile: a.server.cert, keyFile: b.server.key, clientCaFile: a.ca.cert }), /--xds-tls-key .*b-server\.key: is not the key of the certificate in .*a-server\.crt/);
      await assert.rejects(start({ certFile: a.server.cert, keyFile: a.server.key, clientCaFile: a.server.key }), /--xds-tls-client-ca .*: not a PEM certificate/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
