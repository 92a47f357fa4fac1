/**
 * A throwaway certificate authority for tests, made with the openssl command:
 * P-256 keys, two days of validity. The test control plane's API server and its
 * admin use one; so do the xDS mTLS tests.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';

const run = promisify(execFile);
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2'];

export interface IssuedFiles {
  cert: string;
  key: string;
}

export class TestCa {
  readonly cert: string;
  private readonly key: string;

  private constructor(
    private readonly dir: string,
    readonly name: string,
  ) {
    this.cert = path.join(dir, `${name}.crt`);
    this.key = path.join(dir, `${name}.key`);
  }

  /** A new CA whose files are `<dir>/<name>.crt` and `.key`. */
  static async create(dir: string, name = 'ca', subject = '/CN=wasm-control-test-ca'): Promise<TestCa> {
    const ca = new TestCa(dir, name);
    await run('openssl', ['req', '-x509', ...EC, '-keyout', ca.key, '-out', ca.cert, '-subj', subject, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
    return ca;
  }

  /** A leaf certificate signed by this CA, written as `<dir>/<name>.crt` and `.key`; `extensions` are openssl `-addext` values. */
  async issue(name: string, subject: string, ...extensions: string[]): Promise<IssuedFiles> {
    const files = { cert: path.join(this.dir, `${name}.crt`), key: path.join(this.dir, `${name}.key`) };
    await run('openssl', ['req', '-x509', ...EC, '-CA', this.cert, '-CAkey', this.key, '-keyout', files.key, '-out', files.cert, '-subj', subject, ...extensions.flatMap((e) => ['-addext', e])]);
    return files;
  }
}

/** An xDS channel's certificates: a CA, the controller's server certificate and Envoy's client certificate. */
export interface XdsPki {
  ca: TestCa;
  server: IssuedFiles;
  client: IssuedFiles;
}

/**
 * Issues an xDS channel's certificates under `dir`, their files named after `name`: the server's for
 * `serverNames` (openssl SAN entries, e.g. `DNS:localhost`), the client's with `clientNames` if any.
 */
export async function xdsPki(dir: string, name: string, serverNames: string[], clientNames: string[] = []): Promise<XdsPki> {
  const ca = await TestCa.create(dir, `${name}-ca`, `/CN=${name} xDS CA`);
  const [server, client] = await Promise.all([
    ca.issue(`${name}-server`, '/CN=wasm-control-controller', `subjectAltName=${serverNames.join(',')}`, 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE'),
    ca.issue(`${name}-client`, '/CN=wasm-control-envoy', ...(clientNames.length > 0 ? [`subjectAltName=${clientNames.join(',')}`] : []), 'extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE'),
  ]);
  return { ca, server, client };
}

/** gRPC credentials trusting `caFile`, presenting `client` when given. */
export function clientCredentials(caFile: string, client?: { cert: string; key: string }): grpc.ChannelCredentials {
  const ca = fs.readFileSync(caFile);
  return client ? grpc.credentials.createSsl(ca, fs.readFileSync(client.key), fs.readFileSync(client.cert)) : grpc.credentials.createSsl(ca);
}
