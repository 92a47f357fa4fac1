import * as assert from 'node:assert/strict';
import { ControlPlane, ControlPlaneArgs, ControlPlaneArgumentError, hostnameProblem } from '../../components';
import { resolveSettings } from '../../components/settings';

const controller = { image: 'ghcr.io/example/wasm-control:0.1.0' };

/** Arguments as another language (YAML, Python) may send them: anything goes. */
function withController(args: Record<string, unknown>): ControlPlaneArgs {
  return { controller, ...args } as unknown as ControlPlaneArgs;
}

describe('ControlPlane arguments', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown ingress provider', { ingress: { provider: 'nginx' } }, /`ingress.provider` "nginx" is not supported: use one of "traefik", "istio"/],
    ['an unknown service type', { envoy: { service: { type: 'ExternalName' } } }, /`envoy.service.type` "ExternalName" is not supported: use one of "ClusterIP", "NodePort", "LoadBalancer"/],
    ['httpNodePort below 30000', { ingress: { enabled: false }, envoy: { service: { type: 'NodePort', httpNodePort: 8080 } } }, /`envoy.service.httpNodePort` 8080 is outside the node port range: use an integer from 30000 to 32767/],
    ['httpNodePort above 32767', { ingress: { enabled: false }, envoy: { service: { type: 'NodePort', httpNodePort: 32768 } } }, /`envoy.service.httpNodePort` 32768 is outside/],
    ['httpNodePort with a LoadBalancer', { ingress: { enabled: false }, envoy: { service: { type: 'LoadBalancer', httpNodePort: 30950 } } }, /`envoy.service.httpNodePort` is only used with `envoy.service.type: NodePort` \(the type is "LoadBalancer"\)/],
    ['httpNodePort with the default ClusterIP', { envoy: { service: { httpNodePort: 30950 } } }, /`envoy.service.httpNodePort` is only used with `envoy.service.type: NodePort` \(the type is "ClusterIP"\)/],
    ['Istio settings with Traefik', { ingress: { istio: { gatewayName: 'gw' } } }, /`ingress.istio` is set but `ingress.provider` is "traefik": set `ingress.provider: istio`/],
    ['Traefik settings with Istio', { ingress: { provider: 'istio', traefik: { httpNodePort: 30080 } } }, /`ingress.traefik` is set but `ingress.provider` is "istio"/],
    ['a numeric annotation value', { envoy: { service: { annotations: { 'service.beta.kubernetes.io/aws-load-balancer-healthcheck-interval': 10 } } } }, /`envoy.service.annotations\["service.beta.kubernetes.io\/aws-load-balancer-healthcheck-interval"\]` must be a string, got 10 \(number\): quote it/],
    ['a boolean annotation value', { envoy: { service: { annotations: { 'x/y': true } } } }, /`envoy.service.annotations\["x\/y"\]` must be a string, got true/],
    ['a malformed hostname', { ingress: { hosts: [{ host: 'bad_host.example.com' }] } }, /`ingress.hosts\[0\].host` "bad_host.example.com" is not a valid DNS name: label "bad_host"/],
    ['an uppercase hostname', { ingress: { hosts: [{ host: 'Hello.example.com' }] } }, /`ingress.hosts\[0\].host` must be lowercase \(use "hello.example.com"\)/],
    ['a wildcard in the middle', { ingress: { hosts: [{ host: 'a.*.example.com' }] } }, /"a.\*.example.com": a wildcard must be the whole first label/],
    ['an IP address as host', { ingress: { hosts: [{ host: '10.0.0.1' }] } }, /`ingress.hosts\[0\].host` "10.0.0.1" is an IP address/],
    ['a malformed Perses host', { perses: { host: 'perses..example.com' } }, /`perses.host` "perses..example.com" is not a valid DNS name: label ""/],
    ['duplicate hosts', { ingress: { hosts: [{ host: 'a.example.com' }, { host: 'a.example.com' }] } }, /`ingress.hosts\[1\].host` "a.example.com" is already given by `ingress.hosts\[0\].host`: list each host once/],
    ['a host equal to the Perses host', { ingress: { hosts: [{ host: 'perses.localhost.cosmonic.sh' }] } }, /`perses.host` "perses.localhost.cosmonic.sh" is already given by `ingress.hosts\[0\].host`/],
    ['hosts whose object names collide', { ingress: { hosts: [{ host: 'a-b.example.com' }, { host: 'a.b-example.com' }] } }, /`ingress.hosts\[1\].host` "a.b-example.com" maps to the object name "a-b-example-com"/],
    ['hosts in direct mode', { ingress: { enabled: false, hosts: [{ host: 'a.example.com' }] } }, /`ingress.hosts` is set but `ingress.enabled` is false/],
    ['a cert resolver with Istio', { ingress: { provider: 'istio', hosts: [{ host: 'a.example.com', tls: { certResolver: 'le' } }] } }, /`ingress.hosts\[0\].tls.certResolver` is a Traefik setting: with Istio, give `secretName`/],
    ['Istio TLS without a secret', { ingress: { provider: 'istio', hosts: [{ host: 'a.example.com', tls: {} }] } }, /`ingress.hosts\[0\].tls.secretName` is required with Istio/],
    ['both secretName and certResolver', { ingress: { hosts: [{ host: 'a.example.com', tls: { secretName: 's', certResolver: 'le' } }] } }, /`ingress.hosts\[0\].tls` sets both `secretName` and `certResolver`/],
    ['the same Traefik node port twice', { ingress: { traefik: { httpNodePort: 30080, httpsNodePort: 30080 } } }, /`ingress.traefik.httpsNodePort` equals `httpNodePort` \(30080\)/],
    ['a Traefik node port out of range', { ingress: { traefik: { httpNodePort: 80 } } }, /`ingress.traefik.httpNodePort` 80 is outside the node port range/],
    ['an empty gateway selector', { ingress: { provider: 'istio', istio: { ingressGatewaySelector: {} } } }, /`ingress.istio.ingressGatewaySelector` is empty/],
    ['an unknown log level', { controller: { ...controller, logLevel: 'verbose' } }, /`controller.logLevel` "verbose" is not supported: use one of "debug", "info", "warn", "error"/],
    ['a missing controller image', { controller: {} }, /`controller.image` is required: give the controller's container image/],
    ['a fractional trigger count', { controller: { ...controller, expectedTriggers: 1.5 } }, /`controller.expectedTriggers` must be a whole number of at least 1, got 1.5/],
    ['an invalid namespace', { namespace: 'Cosmonic_System' }, /`namespace` "Cosmonic_System" is not a Kubernetes namespace name/],
    ['a non-boolean enabled flag', { ingress: { enabled: 'no' } }, /`ingress.enabled` must be true or false, got "no"/],
    ['a chart that is neither local nor a mirror', { runtime: { chart: {} } }, /`runtime.chart` must set exactly one of `path` \(a local chart directory or .tgz\) and `repository`/],
    ['a chart with both a path and a mirror', { runtime: { chart: { path: 'test/charts/runtime-operator', repository: 'oci://r.example.com/charts' } } }, /`runtime.chart` must set exactly one of `path`/],
    ['a chart path that holds no chart', { perses: { chart: { path: 'test' } } }, /`perses.chart` path "test" \(.*\/test\) is not a chart: give a directory holding Chart.yaml or a packaged .tgz/],
    ['a local chart with a chartVersion', { runtime: { chartVersion: '2.8.0', chart: { path: 'test/charts/runtime-operator' } } }, /`runtime.chart` path is a local chart, which installs the version its Chart.yaml gives: remove chartVersion/],
    ['a mirror that is not a URL', { ingress: { traefik: { chart: { repository: 'charts.example.com' } } } }, /`ingress.traefik.chart` repository must be a Helm repository \(https:\/\/…\) or an OCI registry path \(oci:\/\/…\), got "charts.example.com"/],
    ['a misspelt chart field', { runtime: { chart: { url: 'https://charts.example.com' } } }, /`runtime.chart` has unknown field `url`: use `path` or `repository`/],
    ['Perses TLS without an edge route', { ingress: { enabled: false }, perses: { enabled: true, tls: { secretName: 's' } } }, /`perses.tls` is set but no edge route to Perses is created/],
  ];

  for (const [what, args, message] of cases) {
    it(`rejects ${what} at construction, naming the argument and the fix`, () => {
      assert.throws(() => new ControlPlane('bad', withController(args)), (e: unknown) => {
        assert.ok(e instanceof ControlPlaneArgumentError, `a ControlPlaneArgumentError, got ${String(e)}`);
        assert.match((e as Error).message, message);
        return true;
      });
    });
  }

  it('accepts the documented examples', () => {
    const examples: Record<string, unknown>[] = [
      {},
      { ingress: { hosts: [{ host: 'welcome-tour.localhost.cosmonic.sh' }, { host: 'hello.localhost.cosmonic.sh' }] } },
      { ingress: { provider: 'istio', hosts: [{ host: '*.localhost.cosmonic.sh' }] } },
      { ingress: { enabled: false }, envoy: { service: { type: 'LoadBalancer', annotations: { 'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb' } } } },
      { ingress: { enabled: false }, envoy: { service: { type: 'NodePort', httpNodePort: 30950 } } },
    ];
    for (const args of examples) assert.doesNotThrow(() => resolveSettings(withController(args)), JSON.stringify(args));
  });

  it('defaults Perses to on with an edge proxy and off without one', () => {
    assert.equal(resolveSettings(withController({})).perses.enabled, true);
    assert.equal(resolveSettings(withController({ ingress: { enabled: false } })).perses.enabled, false);
  });
});

describe('hostnameProblem', () => {
  for (const good of ['hello.localhost.cosmonic.sh', '*.localhost.cosmonic.sh', 'localhost', 'a-1.b2.c', `${'a'.repeat(63)}.example.com`]) {
    it(`accepts ${good.slice(0, 40)}`, () => assert.equal(hostnameProblem(good), undefined));
  }
  for (const bad of ['', '*', '-a.example.com', 'a-.example.com', 'a..b', `${'a'.repeat(64)}.example.com`, 'a.example.com:80', '1.2.3.4', 'EXAMPLE.com', 'a b.com', 42]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.equal(typeof hostnameProblem(bad), 'string'));
  }
});
