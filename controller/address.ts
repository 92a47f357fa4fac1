/** `host:port` flags (`127.0.0.1:18000`, `[::1]:9902`), and the controller's default ports. */

/** The controller's ports unless told otherwise; the ControlPlane's pods use the same. */
export const CONTROLLER_PORTS = { xds: 18000, admin: 9902, debug: 9903 } as const;

/** Splits `host:port`; throws naming the text when there is no numeric port. */
export function splitHostPort(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  if (at < 0 || !/^\d+$/.test(address.slice(at + 1))) throw new Error(`"${address}" is not host:port`);
  return [address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), Number(address.slice(at + 1))];
}

/** Whether `host` (as splitHostPort returns it) names this machine only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
