import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ComponentProvider } from '@pulumi/pulumi/provider/experimental';
import { ControlPlane, HostGroup, HttpTrigger, WorkloadDeployment } from '../../components';
import { packageRoot } from '../../controller/package-root';

/**
 * The multi-language schema, inferred from the TypeScript sources the way
 * `pulumi package add` does. A type other languages cannot consume (a union,
 * a function, a non-interface args type, a non-output class property) makes
 * the analyzer throw, and this test fail.
 */
describe('wasm-control component schema (other languages)', function () {
  // The analyzer type-checks the component sources: seconds, not milliseconds.
  this.timeout(60000);
  let schema: any;

  before(async () => {
    // The analyzer reads package.json and tsconfig.json from one folder; point both at components/index.ts.
    const root = packageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-schema-'));
    try {
      const entry = path.join(root, 'components', 'index.ts');
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'wasm-control', version: '0.1.0', main: entry }));
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(root, 'tsconfig.json'), files: [entry], include: [] }));
      schema = JSON.parse(await new ComponentProvider({ components: [ControlPlane, HttpTrigger, WorkloadDeployment, HostGroup], dirname: dir, name: 'wasm-control' }).getSchema());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the four components under wasm-control:index:<ClassName>', () => {
    assert.equal(schema.name, 'wasm-control');
    const cp = schema.resources['wasm-control:index:ControlPlane'];
    assert.equal(cp.isComponent, true);
    assert.deepEqual(Object.keys(schema.resources).sort(), [
      'wasm-control:index:ControlPlane',
      'wasm-control:index:HostGroup',
      'wasm-control:index:HttpTrigger',
      'wasm-control:index:WorkloadDeployment',
    ]);
    for (const resource of Object.values<any>(schema.resources)) assert.equal(resource.isComponent, true);
  });

  it('takes the documented inputs, controller required, each with a description', () => {
    const cp = schema.resources['wasm-control:index:ControlPlane'];
    assert.deepEqual(Object.keys(cp.inputProperties).sort(), ['controller', 'createNamespace', 'envoy', 'hostPolicy', 'ingress', 'namespace', 'perses', 'runtime', 'xdsTls']);
    assert.deepEqual(cp.requiredInputs, ['controller']);
    for (const [typeName, type] of Object.entries<any>(schema.types)) {
      for (const [prop, def] of Object.entries<any>(type.properties ?? {})) assert.ok(def.description, `${typeName}.${prop} has TSDoc`);
    }
    const ingress = schema.types['wasm-control:index:IngressArgs'].properties;
    assert.equal(ingress.provider.$ref, '#/types/wasm-control:index:IngressProvider');
    assert.equal(schema.types['wasm-control:index:EnvoyServiceArgs'].properties.httpNodePort.type, 'number');
    assert.equal(schema.types['wasm-control:index:ControllerArgs'].properties.image.plain, undefined, 'the image may be an output of another resource');
  });

  it('exposes the enumerations as schema enums', () => {
    const values = (name: string) => schema.types[`wasm-control:index:${name}`].enum.map((e: any) => e.value);
    assert.deepEqual(values('IngressProvider'), ['traefik', 'istio']);
    assert.deepEqual(values('ServiceType'), ['ClusterIP', 'NodePort', 'LoadBalancer']);
    assert.deepEqual(values('LogLevel'), ['debug', 'info', 'warn', 'error']);
    assert.deepEqual(values('AdsApiType'), ['DELTA_GRPC', 'GRPC']);
    assert.deepEqual(values('PathType'), ['Exact', 'Prefix']);
    assert.deepEqual(values('DeployPolicy'), ['RollingUpdate', 'Recreate']);
    assert.deepEqual(values('ImagePullPolicy'), ['Always', 'IfNotPresent', 'Never']);
  });

  it('has exactly the outputs users need', () => {
    const cp = schema.resources['wasm-control:index:ControlPlane'];
    assert.deepEqual(Object.keys(cp.properties).sort(), ['edgeEntryPoints', 'hostUrls', 'ingressServiceName', 'namespace', 'persesUrl', 'xdsEndpoint']);
    assert.deepEqual(cp.required.sort(), ['edgeEntryPoints', 'hostUrls', 'ingressServiceName', 'namespace', 'xdsEndpoint']);
    assert.deepEqual(cp.properties.edgeEntryPoints, { type: 'array', items: { type: 'string' }, description: cp.properties.edgeEntryPoints.description });
  });

  it('takes the HttpTrigger chart values as inputs: the checked ones plain, images and replicas as inputs', () => {
    const trigger = schema.resources['wasm-control:index:HttpTrigger'];
    assert.deepEqual(Object.keys(trigger.inputProperties).sort(), [
      'components', 'controlPlane', 'deployPolicy', 'hostGroup', 'hostInterfaces', 'hostSelector', 'ingress', 'name', 'namespace', 'replicas', 'service', 'timeout', 'volumes',
    ]);
    assert.deepEqual(trigger.requiredInputs.sort(), ['components', 'ingress']);
    assert.equal(trigger.inputProperties.ingress.plain, true, 'the host and paths are checked at construction');
    assert.equal(trigger.inputProperties.replicas.plain, undefined);
    const component = schema.types['wasm-control:index:WorkloadComponentArgs'].properties;
    assert.equal(component.image.plain, undefined, 'an image may come from a build');
    assert.equal(component.name.plain, true);
    assert.equal(schema.types['wasm-control:index:HttpPathArgs'].properties.pathType.$ref, '#/types/wasm-control:index:PathType');
    assert.deepEqual(Object.keys(trigger.properties).sort(), ['namespace', 'triggerName', 'upstreamHost', 'url']);
  });

  it('gives WorkloadDeployment the same flat workload inputs, and HostGroup its advertised interfaces as an output', () => {
    const deployment = schema.resources['wasm-control:index:WorkloadDeployment'];
    assert.deepEqual(Object.keys(deployment.inputProperties).sort(), [
      'components', 'controlPlane', 'deployPolicy', 'hostGroup', 'hostInterfaces', 'hostSelector', 'name', 'namespace', 'replicas', 'service', 'volumes',
    ]);
    const hostGroup = schema.resources['wasm-control:index:HostGroup'];
    assert.deepEqual(Object.keys(hostGroup.properties).sort(), ['advertisedInterfaces', 'groupName', 'hostSelector', 'namespace']);
    assert.deepEqual(hostGroup.properties.advertisedInterfaces.items, { $ref: '#/types/wasm-control:index:AdvertisedInterfaceArgs' });
    assert.equal(hostGroup.inputProperties.gpu.type, 'boolean');
    assert.equal(schema.types['wasm-control:index:HostGroupReference'].properties.groupName.type, 'string');
  });
});

