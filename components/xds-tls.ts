/**
 * The certificates of the mTLS channel between Envoy and the controller: a CA
 * of this control plane's own, the controller's server certificate (for its
 * Service's DNS names) and Envoy's client certificate, issued with the Pulumi
 * TLS provider (keys are Pulumi secrets) unless the user brings PEM files of
 * their own. Each lands in a Secret the pod mounts; a certificate within
 * `earlyRenewalHours` of expiry is re-issued by the next `pulumi up`.
 */
import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as tls from '@pulumi/tls';
import { CONTROLLER, ENVOY, labels, serviceDns } from './names';
import type { Settings } from './settings';

/**
 * Where each pod mounts its Secret; the file names are those of a `kubernetes.io/tls` Secret plus
 * `ca.crt`. Not under Envoy's /etc/envoy, which is the bootstrap ConfigMap's mount.
 */
export const XDS_TLS_DIRS = { controller: '/etc/wasm-control/xds-tls', envoy: '/etc/envoy-xds-tls' } as const;
export const XDS_TLS_SECRETS = { controller: `${CONTROLLER}-xds-tls`, envoy: `${ENVOY}-xds-tls` } as const;

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** The three files under `dir`. */
export function xdsTlsFiles(dir: string): TlsFiles {
  return { cert: `${dir}/tls.crt`, key: `${dir}/tls.key`, ca: `${dir}/ca.crt` };
}

/** The names the controller's certificate carries: its Service, however a client in the cluster spells it. */
export function controllerDnsNames(namespace: string): string[] {
  // The last is the one Envoy's bootstrap checks (serviceDns).
  return [CONTROLLER, `${CONTROLLER}.${namespace}`, `${CONTROLLER}.${namespace}.svc`, serviceDns(CONTROLLER, namespace)];
}

interface IssuedPair {
  cert: pulumi.Output<string>;
  key: pulumi.Output<string>;
}

interface XdsCertificates {
  ca: pulumi.Output<string>;
  controller: IssuedPair;
  envoy: IssuedPair;
}

function issue(parent: pulumi.Resource, name: string, s: Settings): XdsCertificates {
  const { validityHours, earlyRenewalHours } = s.xdsTls;
  const opts = { parent };
  const key = (what: string) => new tls.PrivateKey(`${name}-xds-${what}`, { algorithm: 'ECDSA', ecdsaCurve: 'P256' }, opts);
  const caKey = key('ca');
  const ca = new tls.SelfSignedCert(
    `${name}-xds-ca`,
    {
      privateKeyPem: caKey.privateKeyPem,
      isCaCertificate: true,
      subject: { commonName: `wasm-control xDS CA (${s.namespace})`, organization: 'wasm-control' },
      // Longer than the leaves, so that renewing them keeps the CA (and open connections' trust).
      validityPeriodHours: validityHours * 10,
      earlyRenewalHours: earlyRenewalHours * 10,
      allowedUses: ['cert_signing', 'crl_signing', 'digital_signature'],
    },
    opts,
  );
  const leaf = (what: string, subject: string, uses: string[], dnsNames?: string[]): IssuedPair => {
    const leafKey = key(what);
    const request = new tls.CertRequest(`${name}-xds-${what}`, { privateKeyPem: leafKey.privateKeyPem, subject: { commonName: subject, organization: 'wasm-control' }, dnsNames }, opts);
    const cert = new tls.LocallySignedCert(
      `${name}-xds-${what}`,
      {
        certRequestPem: request.certRequestPem,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: validityHours,
        earlyRenewalHours,
        allowedUses: ['digital_signature', 'key_encipherment', ...uses],
      },
      opts,
    );
    return { cert: cert.certPem, key: leafKey.privateKeyPem };
  };
  return {
    ca: ca.certPem,
    controller: leaf('controller', CONTROLLER, ['server_auth'], controllerDnsNames(s.namespace)),
    envoy: leaf('envoy', ENVOY, ['client_auth']),
  };
}

function given(s: Settings): XdsCertificates | undefined {
  const c = s.xdsTls.certificates;
  if (!c) return undefined;
  // The keys go only into Secrets, whose data the Kubernetes provider always keeps as Pulumi secrets.
  return {
    ca: pulumi.output(c.ca),
    controller: { cert: pulumi.output(c.controllerCert), key: pulumi.output(c.controllerKey) },
    envoy: { cert: pulumi.output(c.envoyCert), key: pulumi.output(c.envoyKey) },
  };
}

/** The two Secrets (each pod gets only its own key; both trust the one CA), and the hash that rolls Envoy. */
export function xdsTlsSecrets(
  parent: pulumi.Resource,
  name: string,
  s: Settings,
  opts: pulumi.CustomResourceOptions,
): { controller: k8s.core.v1.Secret; envoy: k8s.core.v1.Secret; envoyCertSha256: pulumi.Output<string> } {
  const certs = given(s) ?? issue(parent, name, s);
  const secret = (who: keyof typeof XDS_TLS_SECRETS, pair: IssuedPair) =>
    new k8s.core.v1.Secret(
      `${name}-${who}-xds-tls`,
      {
        metadata: { name: XDS_TLS_SECRETS[who], namespace: s.namespace, labels: labels(who === 'controller' ? CONTROLLER : ENVOY) },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': pair.cert, 'tls.key': pair.key, 'ca.crt': certs.ca },
      },
      opts,
    );
  return {
    controller: secret('controller', certs.controller),
    envoy: secret('envoy', certs.envoy),
    // Envoy reads its files once: a new certificate, or a new CA to check the controller's with, must roll it.
    envoyCertSha256: pulumi.all([certs.envoy.cert, certs.ca]).apply(([cert, ca]) => createHash('sha256').update(cert ?? '').update(ca ?? '').digest('hex')),
  };
}
