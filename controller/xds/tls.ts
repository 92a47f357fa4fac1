/**
 * Mutual TLS for the ADS server. The routing table names every workload's
 * endpoints, so only a client holding a certificate from our client CA (the
 * ControlPlane issues Envoy's) may read it. The three files are re-read every
 * `refreshMs` (grpc-js's file-watcher certificate provider): a Secret volume
 * updated by `pulumi up` is picked up without a restart, and open streams keep
 * the connection they have. Without certificates the server may listen on
 * loopback only.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { XDS_TLS_FLAGS } from '../cli/flags';

export interface XdsTlsFiles {
  /** The server's certificate chain (PEM). */
  certFile: string;
  /** Its private key (PEM). */
  keyFile: string;
  /** The CA whose certificates clients must present (PEM). */
  clientCaFile: string;
  /** How often the files are re-read (default 10 s). */
  refreshMs?: number;
}



/**
 * Reads and checks the files once, so that a wrong path or a key that is not the certificate's
 * stops the controller at start with the flag named, instead of every handshake failing later.
 */
export function checkXdsTlsFiles(files: XdsTlsFiles): void {
  const flags = { [files.certFile]: XDS_TLS_FLAGS.certFile, [files.keyFile]: XDS_TLS_FLAGS.keyFile, [files.clientCaFile]: XDS_TLS_FLAGS.clientCaFile };
  const read = (file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${flags[file]} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const found =
    identityProblem(files, { certificate: read(files.certFile), privateKey: read(files.keyFile) }) ?? certificateProblem(files.clientCaFile, read(files.clientCaFile));
  if (found) throw new Error(`${flags[found.file]} ${found.file}: ${found.problem}`);
}

/** What the credentials report as their files change. */
export interface XdsTlsEvents {
  /** Files that cannot be used (unreadable, not PEM, a key that is not the certificate's): the last good ones stay in use. */
  onProblem(problem: string): void;
  /** A new certificate or client CA is in use for new connections. */
  onRenewed(what: 'certificate' | 'client CA', notAfter: string): void;
}

/**
 * Server credentials that require a client certificate from the client CA, re-reading the files as
 * they change. What grpc-js's file watcher reads is checked before the server sees it: a key read
 * half-way through a Secret update, or a file gone, would otherwise leave the server without an
 * identity, refusing every new connection until the next good read.
 */
export function xdsServerCredentials(files: XdsTlsFiles, events: XdsTlsEvents): { credentials: grpc.ServerCredentials; loaded: Promise<void> } {
  const watcher = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    caCertificateFile: files.clientCaFile,
    refreshIntervalMs: files.refreshMs ?? 10_000,
  });
  const provider = new CheckedCertificates(watcher, files, events);
  return { credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true), loaded: provider.loaded };
}

type Listener<U> = (update: U | null) => void;

/**
 * Forwards only usable updates; reports the rest once each. The files are one unit: the watcher
 * hands over a read's certificate and key before its CA, and a CA read alongside an unusable key is
 * held back too, so the server never mixes one Secret's CA with another's certificate.
 */
class CheckedCertificates implements grpc.experimental.CertificateProvider {
  /** The wrapper given to the file watcher for each of the server's listeners, to remove it by. */
  private readonly wrappers = new Map<Listener<never>, Listener<never>>();
  /** The last certificate and CA forwarded, and the last problem reported, of each kind. */
  private readonly last = { identity: { pem: undefined as Buffer | undefined, problem: '' }, ca: { pem: undefined as Buffer | undefined, problem: '' } };
  private markLoaded = () => {};
  /** Resolves once the server holds a certificate and a client CA (the files are read after it binds). */
  readonly loaded = new Promise<void>((resolve) => (this.markLoaded = resolve));

  constructor(
    private readonly files: grpc.experimental.CertificateProvider,
    private readonly paths: XdsTlsFiles,
    private readonly events: XdsTlsEvents,
  ) {}

  addIdentityCertificateListener(listener: Listener<grpc.experimental.IdentityCertificateUpdate>): void {
    this.files.addIdentityCertificateListener(
      this.wrap('identity', listener, (update) => [update.certificate, update.privateKey], (update) =>
        update ? described(identityProblem(this.paths, update)) : `${this.paths.certFile} or ${this.paths.keyFile}: cannot be read`,
      ),
    );
  }

  addCaCertificateListener(listener: Listener<grpc.experimental.CaCertificateUpdate>): void {
    this.files.addCaCertificateListener(
      this.wrap('ca', listener, (update) => [update.caCertificate], (update) =>
        update ? described(certificateProblem(this.paths.clientCaFile, update.caCertificate)) : `${this.paths.clientCaFile}: cannot be read`,
      ),
    );
  }

  removeIdentityCertificateListener(listener: Listener<grpc.experimental.IdentityCertificateUpdate>): void {
    this.files.removeIdentityCertificateListener(this.unwrap(listener));
  }

  removeCaCertificateListener(listener: Listener<grpc.experimental.CaCertificateUpdate>): void {
    this.files.removeCaCertificateListener(this.unwrap(listener));
  }

  /** The last certificate and key read are usable (the CA read with them may be passed on). */
  private get identityUsable(): boolean {
    return this.last.identity.problem === '' && this.last.identity.pem !== undefined;
  }

  private wrap<U>(which: 'identity' | 'ca', listener: Listener<U>, bytesOf: (update: U) => Buffer[], problemOf: (update: U | null) => string | undefined): Listener<U> {
    let passedOn: Buffer[] | undefined;
    const wrapper: Listener<U> = (update) => {
      const bytes = update ? bytesOf(update) : undefined;
      // The watcher hands over every read, changed or not: what this listener has already is neither checked nor applied again.
      if (bytes && passedOn?.every((b, i) => b.equals(bytes[i]))) {
        this.last[which].problem = '';
        return;
      }
      // A CA read alongside an unusable key is held back, unreported (the key's problem is).
      if (which === 'ca' && !this.identityUsable) return;
      if (!this.accepted(which, problemOf(update), bytes?.[0])) return;
      passedOn = bytes;
      listener(update);
      if (this.last.identity.pem && this.last.ca.pem) this.markLoaded();
    };
    this.wrappers.set(listener as Listener<never>, wrapper as Listener<never>);
    return wrapper;
  }

  private unwrap<U>(listener: Listener<U>): Listener<U> {
    const wrapper = this.wrappers.get(listener as Listener<never>) as Listener<U> | undefined;
    this.wrappers.delete(listener as Listener<never>);
    return wrapper ?? listener;
  }

  /** Reports a problem when it first appears, and a renewal when a new certificate is taken; true when usable. */
  private accepted(which: 'identity' | 'ca', problem: string | undefined, pem: Buffer | undefined): boolean {
    const last = this.last[which];
    if (problem && problem !== last.problem) this.events.onProblem(`${problem}; the last good files stay in use`);
    last.problem = problem ?? '';
    if (problem || !pem) return false;
    if (!last.pem?.equals(pem)) {
      if (last.pem) this.events.onRenewed(which === 'ca' ? 'client CA' : 'certificate', new crypto.X509Certificate(pem).validTo);
      last.pem = pem;
    }
    return true;
  }
}

interface FileProblem {
  file: string;
  problem: string;
}

function described(found: FileProblem | undefined): string | undefined {
  return found && `${found.file}: ${found.problem}`;
}

function certificateProblem(file: string, pem: Buffer): FileProblem | undefined {
  try {
    new crypto.X509Certificate(pem);
    return undefined;
  } catch (err) {
    return { file, problem: `not a PEM certificate (${(err as Error).message})` };
  }
}

function identityProblem(paths: Pick<XdsTlsFiles, 'certFile' | 'keyFile'>, update: grpc.experimental.IdentityCertificateUpdate): FileProblem | undefined {
  const problem = certificateProblem(paths.certFile, update.certificate);
  if (problem) return problem;
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(update.privateKey);
  } catch (err) {
    return { file: paths.keyFile, problem: `not a PEM private key (${(err as Error).message})` };
  }
  return new crypto.X509Certificate(update.certificate).checkPrivateKey(key) ? undefined : { file: paths.keyFile, problem: `is not the key of the certificate in ${paths.certFile}` };
}

/** Who is on the other end of a stream: the address, and for mTLS the certificate's subject and names. */
export interface PeerIdentity {
  address: string;
  /** `CN=…` and the subject alternative names of the client certificate; absent without TLS. */
  certificate?: string;
}

export function peerIdentity(call: Pick<grpc.ServerDuplexStream<unknown, unknown>, 'getPeer' | 'getAuthContext'>): PeerIdentity {
  const certificate = call.getAuthContext()?.sslPeerCertificate;
  const names = certificate && [certificate.subject?.CN && `CN=${certificate.subject.CN}`, certificate.subjectaltname].filter(Boolean).join(', ');
  return { address: call.getPeer(), ...(names ? { certificate: names } : {}) };
}
