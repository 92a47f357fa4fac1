/**
 * What the Pulumi TLS provider computes, for Pulumi mocks (which echo inputs):
 * PEM-shaped text naming the resource, so tests can tell which certificate or
 * key went where.
 */
const pem = (label: string, name: string) => `-----BEGIN ${label}-----\n${Buffer.from(name).toString('base64')}\n-----END ${label}-----\n`;

export function tlsProviderOutputs(type: string, name: string): Record<string, string> {
  switch (type) {
    case 'tls:index/privateKey:PrivateKey':
      return { privateKeyPem: pem('PRIVATE KEY', name), publicKeyPem: pem('PUBLIC KEY', name) };
    case 'tls:index/certRequest:CertRequest':
      return { certRequestPem: pem('CERTIFICATE REQUEST', name) };
    case 'tls:index/selfSignedCert:SelfSignedCert':
    case 'tls:index/locallySignedCert:LocallySignedCert':
      return { certPem: pem('CERTIFICATE', name) };
    default:
      return {};
  }
}
