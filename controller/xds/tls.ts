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

export const XDS_TLS_FLAGS = { certFile: '--xds-tls-cert', keyFile: '--xds-tls-key', clientCaFile: '--xds-tls-client-ca' } as const;

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

type CaListener = grpc.experimental.CaCertificateUpdateListener;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;

/**
 * Forwards only usable updates; reports the rest once each. The files are one unit: the watcher
 * hands over a read's certificate and key before its CA, and a CA read alongside an unusable key is
 * held back too, so the server never mixes one Secret's CA with another's certificate.
 */
class CheckedCertificates implements grpc.experimental.CertificateProvider {
  private readonly caListeners = new Map<CaListener, CaListener>();
  private readonly identityListeners = new Map<IdentityListener, IdentityListener>();
  private lastCa?: Buffer;
  private lastCertificate?: Buffer;
  private lastProblem = { ca: '', identity: '' };
  private identityUsable = false;
  private markLoaded = () => {};
  /** Resolves once the server holds a certificate and a client CA (the files are read after it binds). */
  readonly loaded = new Promise<void>((resolve) => (this.markLoaded = resolve));

  constructor(
    private readonly files: grpc.experimental.CertificateProvider,
    private readonly paths: XdsTlsFiles,
    private readonly events: XdsTlsEvents,
  ) {}

  addCaCertificateListener(listener: CaListener): void {
    const checked: CaListener = (update) => {
      const problem = !update ? `${this.paths.clientCaFile}: cannot be read` : described(certificateProblem(this.paths.clientCaFile, update.caCertificate));
      if (!this.usable('ca', problem) || !update || !this.identityUsable) return;
      if (!this.lastCa?.equals(update.caCertificate)) {
        if (this.lastCa) this.events.onRenewed('client CA', new crypto.X509Certificate(update.caCertificate).validTo);
        this.lastCa = update.caCertificate;
      }
      listener(update);
      if (this.lastCertificate) this.markLoaded();
    };
    this.caListeners.set(listener, checked);
    this.files.addCaCertificateListener(checked);
  }

  removeCaCertificateListener(listener: CaListener): void {
    const checked = this.caListeners.get(listener);
    this.caListeners.delete(listener);
    if (checked) this.files.removeCaCertificateListener(checked);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    const checked: IdentityListener = (update) => {
      const problem = !update ? `${this.paths.certFile} or ${this.paths.keyFile}: cannot be read` : described(identityProblem(this.paths, update));
      this.identityUsable = this.usable('identity', problem);
      if (!this.identityUsable || !update) return;
      if (!this.lastCertificate?.equals(update.certificate)) {
        if (this.lastCertificate) this.events.onRenewed('certificate', new crypto.X509Certificate(update.certificate).validTo);
        this.lastCertificate = update.certificate;
      }
      listener(update);
      if (this.lastCa) this.markLoaded();
    };
    this.identityListeners.set(listener, checked);
    this.files.addIdentityCertificateListener(checked);
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    const checked = this.identityListeners.get(listener);
    this.identityListeners.delete(listener);
    if (checked) this.files.removeIdentityCertificateListener(checked);
  }

  /** Reports a problem when it first appears; true when there is none. */
  private usable(which: 'ca' | 'identity', problem: string | undefined): boolean {
    if (problem && problem !== this.lastProblem[which]) this.events.onProblem(`${problem}; the last good files stay in use`);
    this.lastProblem[which] = problem ?? '';
    return !problem;
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
