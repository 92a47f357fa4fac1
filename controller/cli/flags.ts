/** Command-line flags shared by the commands and by what starts the controller (no gRPC here: the Pulumi components import it). */
import type { XdsTlsFiles } from '../xds/tls';

/** The controller's xDS mTLS flags, by the field of XdsTlsFiles each sets. */
export const XDS_TLS_FLAGS = { certFile: '--xds-tls-cert', keyFile: '--xds-tls-key', clientCaFile: '--xds-tls-client-ca' } as const;

/** The controller's arguments for these files (the ControlPlane's pod, the tests' processes). */
export function xdsTlsArgs(files: Omit<XdsTlsFiles, 'refreshMs'>): string[] {
  return [XDS_TLS_FLAGS.certFile, files.certFile, XDS_TLS_FLAGS.keyFile, files.keyFile, XDS_TLS_FLAGS.clientCaFile, files.clientCaFile];
}

/**
 * Flags that only work together (e.g. a certificate, its key and a CA): true when all are given,
 * false when none is; when only some are, throws naming the missing ones and `why` they go together.
 * An empty value counts as not given.
 */
export function allOrNone(given: Record<string, string | undefined>, why: string): boolean {
  const flags = Object.keys(given);
  const missing = flags.filter((flag) => !given[flag]);
  if (missing.length === 0) return true;
  if (missing.length === flags.length) return false;
  throw new Error(`${missing.join(' and ')} missing: ${why}`);
}
