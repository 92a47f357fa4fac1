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
  const read = (flag: string, file: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  };
  const parse = <T>(flag: string, file: string, what: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      throw new Error(`${flag} ${file}: not a PEM ${what} (${(err as Error).message})`);
    }
  };
  const certPem = read(XDS_TLS_FLAGS.certFile, files.certFile);
  const cert = parse(XDS_TLS_FLAGS.certFile, files.certFile, 'certificate', () => new crypto.X509Certificate(certPem));
  const key = parse(XDS_TLS_FLAGS.keyFile, files.keyFile, 'private key', () => crypto.createPrivateKey(read(XDS_TLS_FLAGS.keyFile, files.keyFile)));
  if (!cert.checkPrivateKey(key)) throw new Error(`${XDS_TLS_FLAGS.keyFile} ${files.keyFile}: is not the key of the certificate in ${files.certFile}`);
  const caPem = read(XDS_TLS_FLAGS.clientCaFile, files.clientCaFile);
  parse(XDS_TLS_FLAGS.clientCaFile, files.clientCaFile, 'CA certificate', () => new crypto.X509Certificate(caPem));
}

/** Server credentials that require a client certificate from the client CA, re-reading the files as they change. */
export function xdsServerCredentials(files: XdsTlsFiles): grpc.ServerCredentials {
  const provider = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: files.certFile,
    privateKeyFile: files.keyFile,
    caCertificateFile: files.clientCaFile,
    refreshIntervalMs: files.refreshMs ?? 10_000,
  });
  return grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
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
