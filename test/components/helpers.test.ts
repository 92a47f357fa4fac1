import * as assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { keepGeneratedSecrets, mergeValues } from '../../components/chart-values';
import { objectNameForHost } from '../../components/names';
import { validateObject } from './k8s-schemas';

describe('component helpers', () => {
  it('merges chart values like Helm: objects key by key, lists and scalars replaced', () => {
    const merged = mergeValues({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { c: [3], e: true }, d: 'y' });
    assert.deepEqual(merged, { a: { b: 1, c: [3], e: true }, d: 'y' });
  });

  it('keeps an Output in chart values whole instead of merging into it', () => {
    const out = pulumi.output('v');
    assert.equal(mergeValues({ a: { b: 1 } }, { a: out }).a, out);
  });

  it('makes the runtime chart keep its generated Secrets and leaves other objects alone', () => {
    const args = (type: string) => ({ type, name: 'n', custom: true, props: { data: {} }, opts: {} }) as pulumi.ResourceTransformArgs;
    const secret = keepGeneratedSecrets(args('kubernetes:core/v1:Secret')) as pulumi.ResourceTransformResult;
    assert.deepEqual(secret.opts.ignoreChanges, ['data', 'stringData']);
    assert.equal(keepGeneratedSecrets(args('kubernetes:apps/v1:Deployment')), undefined);
  });

  it('names edge objects after their host, within 63 characters and unique for long hosts', () => {
    assert.equal(objectNameForHost('hello.localhost.cosmonic.sh'), 'hello-localhost-cosmonic-sh');
    assert.equal(objectNameForHost('*.localhost.cosmonic.sh'), 'wildcard-localhost-cosmonic-sh');
    const long1 = objectNameForHost(`${'a'.repeat(60)}.one.example.com`);
    const long2 = objectNameForHost(`${'a'.repeat(60)}.two.example.com`);
    assert.ok(long1.length <= 63 && long2.length <= 63);
    assert.notEqual(long1, long2);
    assert.match(long1, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  });

  it('the upstream schema check rejects a malformed object (it can fail)', async () => {
    await assert.rejects(validateObject({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', annotations: { a: 1 } }, spec: { ports: [{ port: 80 }] } }), /annotations\/a must be string/);
    await assert.rejects(validateObject({ apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'g' }, spec: { servers: [{ port: { number: 80 }, hosts: ['a'] }] } }), /protocol/);
  });
});
