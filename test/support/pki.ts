/**
 * A throwaway certificate authority for tests, made with the openssl command:
 * P-256 keys, two days of validity. The test control plane's API server and its
 * admin use one; so do the xDS mTLS tests.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

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
