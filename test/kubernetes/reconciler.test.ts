/**
 * Kubernetes mode against our in-memory API server, at unit speed and with what
 * only it can do: injected faults (410 Gone, dropped watches, an unreachable
 * server), counting every write. @kubernetes/client-node lists and watches it
 * unmodified. The contract with a real kube-apiserver (CRD, RBAC, server-side
 * apply, garbage collection, leader failover) is proven in test/real-cluster/.
 */
import * as assert from 'node:assert/strict';
import pino from 'pino';
import { APPLIED_HASH_ANNOTATION, TRIGGER_LABEL } from '../../controller/api/types';
import { triggerUpstreamHost } from '../../controller/api/validate';
import { RECONCILED } from '../../controller/reconcile/reconciler';
import { KubernetesSource, RESOURCES } from '../../controller/sources/kubernetes';
import { host, trigger, workload } from '../support/fixtures';
import { adminJson, requestsOutsideRbac, TestCluster } from './harness';

type Obj = Record<string, any>;

const routes = (replica: Parameters<typeof adminJson>[0]) => adminJson(replica, '/debug/routes') as Promise<{ trigger: string; path: string; endpoints: string[] }[]>;

describe('Kubernetes mode: source and reconciler', () => {
  let cluster: TestCluster;

  beforeEach(async () => {
    cluster = await new TestCluster().start();
  });

  afterEach(async () => {
    await cluster.stop();
    // Least privilege, checked: every request the controller made is one controller/rbac.yaml allows.
    assert.deepEqual(requestsOutsideRbac(cluster.server.requests), []);
  });

  it('creates the WorkloadDeployment (owned, labelled, wasi:http merged) and reports status, then Ready with endpoints', async () => {
    const { server } = cluster;
    server.put(
      trigger('shop', {
        host: 'shop.example.com',
        paths: [['/api', 'Prefix']],
        spec: {
          replicas: 2,
          hostSelector: { hostgroup: 'default' },
          template: {
            spec: {
              components: [{ name: 'http', image: 'ghcr.io/example/shop:0.1.0' }],
              volumes: [{ name: 'cache', ephemeral: {} }],
              hostInterfaces: [
                { namespace: 'wasi', package: 'http', interfaces: ['outgoing-handler'], config: { host: 'shop.internal' } },
                { namespace: 'wasi', package: 'keyvalue', interfaces: ['store'] },
              ],
            },
          },
        },
      }),
    );
    const { replica, logs } = await cluster.controller('replica-a');
    const wd = await cluster.changes.until('the WorkloadDeployment', () => cluster.get('WorkloadDeployment', 'shop'));
    const owner = cluster.get('HTTPTrigger', 'shop')!;
    assert.deepEqual(wd.metadata.ownerReferences, [
      { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HTTPTrigger', name: 'shop', uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true },
    ]);
    assert.equal(wd.spec.replicas, 2);
    assert.equal(wd.spec.deployPolicy, 'RollingUpdate');
    assert.equal(wd.spec.template.labels[TRIGGER_LABEL], 'shop');
    assert.deepEqual(wd.spec.template.spec.hostSelector, { hostgroup: 'default' });
    assert.deepEqual(wd.spec.template.spec.volumes, [{ name: 'cache', ephemeral: {} }]);
    const http = wd.spec.template.spec.hostInterfaces.filter((i: Obj) => i.namespace === 'wasi' && i.package === 'http');
    assert.equal(http.length, 1, 'one unnamed wasi:http entry, as the runtime CRD requires');
    assert.deepEqual(http[0].interfaces, ['outgoing-handler', 'incoming-handler']);
    assert.deepEqual(http[0].config, { host: triggerUpstreamHost('default', 'shop'), 'host-aliases': 'shop.internal' });
    const apply = server.writes.find((w) => w.path.endsWith('/workloaddeployments/shop'))!;
    assert.equal(apply.contentType, 'application/apply-patch+yaml');
    assert.equal(apply.fieldManager, 'wasm-control');

    const accepted = await cluster.changes.until('Accepted', () => cluster.condition('shop', 'Accepted'));
    assert.equal(accepted.status, 'True');
    const status = cluster.get('HTTPTrigger', 'shop')!.status;
    assert.equal(status.observedGeneration, 1);
    assert.equal(status.upstreamHost, triggerUpstreamHost('default', 'shop'));
    assert.equal(status.workloadDeployment, 'shop');
    assert.equal(status.paths, '/api (Prefix)');
    assert.equal(status.endpoints, 0);
    const byType = Object.fromEntries(status.conditions.map((c: Obj) => [c.type, c]));
    assert.equal(byType.Programmed.status, 'True');
    assert.equal(byType.Ready.status, 'False');
    assert.equal(byType.Ready.reason, 'NoEndpoints');
    assert.equal(byType.Placeable, undefined, 'no NATS: no placement verdict');
    assert.ok(logs.some((l) => /placement check is off/.test(l.msg)));

    // The runtime runs it: a Ready Workload on a Ready Host.
    server.put(host('host-1', { hostname: '10.1.0.7' }));
    server.put(workload('shop-abc', 'shop', 'host-1'));
    const ready = await cluster.changes.until('Ready=True', () => cluster.condition('shop', 'Ready')?.status === 'True' && cluster.get('HTTPTrigger', 'shop'));
    assert.equal(ready.status.endpoints, 1);
    assert.deepEqual(
      (await routes(replica)).map((r) => [r.trigger, r.path, r.endpoints]),
      [['default/shop', '/api', ['10.1.0.7:9191']]],
    );
    assert.deepEqual(server.invalidWrites, [], 'every write passes the schema');
  });

  it('updates the deployment and status on a spec change, and writes nothing when nothing changed', async () => {
    const { server } = cluster;
    server.put(trigger('blog', { host: 'blog.example.com' }));
    const { replica } = await cluster.controller('replica-a');
    await cluster.changes.until('first status', () => cluster.condition('blog', 'Accepted'));
    const first = cluster.get('WorkloadDeployment', 'blog')!;

    server.put(trigger('blog', { host: 'blog.example.com', paths: [['/', 'Prefix'], ['/feed', 'Exact']], spec: { replicas: 3 } }));
    const updated = await cluster.changes.until('replicas 3', () => cluster.get('WorkloadDeployment', 'blog')?.spec.replicas === 3 && cluster.get('WorkloadDeployment', 'blog'));
    assert.notEqual(updated.metadata.annotations[APPLIED_HASH_ANNOTATION], first.metadata.annotations[APPLIED_HASH_ANNOTATION]);
    // Converged once the status reflects the updated deployment too.
    await cluster.changes.until('status of generation 2', () => /0\/3 replicas/.test(cluster.condition('blog', 'Ready')?.message ?? ''));
    assert.equal(cluster.get('HTTPTrigger', 'blog')!.status.paths, '/ (Prefix), /feed (Exact)');

    // Settled: another full pass must not write anything.
    await replica.reconciler.idle();
    const writes = server.writes.length;
    const passes = replica.reconciler.passes;
    replica.reconciler.kick();
    await replica.reconciler.idle();
    assert.ok(replica.reconciler.passes > passes);
    assert.equal(server.writes.length, writes, `unexpected writes: ${JSON.stringify(server.writes.slice(writes).map((w) => w.path))}`);
    assert.deepEqual(server.invalidWrites, []);
  });

  it('caches only what it reads: no managedFields, and of the annotations only the applied hash', async () => {
    const { server } = cluster;
    const big = 'x'.repeat(10_000);
    const stored = trigger('lean', { host: 'lean.example.com' }) as Obj;
    stored.metadata.annotations = { 'kubectl.kubernetes.io/last-applied-configuration': big, team: 'web' };
    stored.metadata.managedFields = [{ manager: 'kubectl', operation: 'Apply', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { big } } }];
    server.put(stored);
    const { replica } = await cluster.controller('replica-a');
    await cluster.changes.until('the deployment seen back', () => replica.source.workloadDeployment('default', 'lean'));
    const wd = replica.source.workloadDeployment('default', 'lean')!;
    assert.ok(cluster.get('WorkloadDeployment', 'lean')!.metadata.managedFields.length > 0, 'the server keeps managedFields');
    assert.equal((wd.metadata as Obj).managedFields, undefined);
    assert.deepEqual(Object.keys(wd.metadata.annotations ?? {}), [APPLIED_HASH_ANNOTATION]);
    const cachedTrigger = replica.source.trigger('default', 'lean')!;
    assert.equal((cachedTrigger.metadata as Obj).managedFields, undefined);
    assert.equal(cachedTrigger.metadata.annotations, undefined);
  });

  it('lists in pages of 500, as a real server is asked', async () => {
    const { server } = cluster;
    for (let i = 0; i < 1_100; i++) server.put(trigger(`paged-${i}`, { host: `paged-${i}.example.com` }));
    const { replica } = await cluster.controller('replica-a');
    assert.equal(replica.source.read().triggers.length, 1_100);
    assert.deepEqual(
      server.lists('httptriggers').map((q) => [q.get('limit'), q.get('continue')]),
      [['500', null], ['500', '500'], ['500', '1000']],
    );
  });

  it('lists Namespaces in pages too: every namespace\'s labels reach HostPolicy selectors', async () => {
    const { server } = cluster;
    for (let i = 0; i < 1_100; i++) server.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `ns-${i}`, labels: { tenant: i === 1_099 ? 'yes' : 'no' } } });
    server.put({ apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name: 'tenants' }, spec: { hosts: ['*.apps.example.com'], namespaces: { selector: { matchLabels: { tenant: 'yes' } } } } });
    server.put(trigger('last', { namespace: 'ns-1099', host: 'last.apps.example.com' }));
    server.put(trigger('first', { namespace: 'ns-0', host: 'first.apps.example.com' }));
    const { replica } = await cluster.controller('replica-a');
    assert.equal(replica.source.read().namespaces.length, 1_100);
    assert.deepEqual((await routes(replica)).map((r) => r.trigger), ['ns-1099/last'], 'the 1,100th namespace\'s labels were read');
    assert.equal(cluster.server.lists('namespaces').length, 3);
  });

  it('reports a namespace\'s label change to the pipeline, not its other changes', async () => {
    const { server } = cluster;
    const namespace = (labels: Obj, annotations: Obj = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team', labels, annotations } });
    server.put(namespace({ tenant: 'no' }));
    // The source alone, so that every change it reports is counted (a controller coalesces them).
    const source = new KubernetesSource({ kubeConfig: server.kubeConfig(), log: pino({ level: 'silent' }) });
    let reported = 0;
    await source.start(() => {
      reported++;
      cluster.changes.notify();
    });
    try {
      const labels = () => source.read().namespaces.find((n) => n.name === 'team')?.labels;
      const first = labels();
      reported = 0; // the initial list's
      server.put(namespace({ tenant: 'no' }, { note: 'an annotation only' }));
      // Events on one watch arrive in order: once the label change is seen, so was the annotation.
      server.put(namespace({ tenant: 'yes' }, { note: 'an annotation only' }));
      await cluster.changes.until('the label seen', () => reported > 0 && labels()?.tenant === 'yes');
      assert.equal(reported, 1, 'the annotation-only change reported nothing');
      assert.notEqual(labels(), first);
    } finally {
      await source.close();
    }
  });

  it('serves without the HostPolicy CRD (none apply, with a warning naming the file) and picks the CRD up once installed', async () => {
    const { server } = cluster;
    server.uninstalled.add('hostpolicies');
    server.put(trigger('open', { host: 'open.example.com' }));
    const { replica, logs } = await cluster.controller('replica-a', { backoff: { initialMs: 20, maxMs: 50 } });
    assert.deepEqual((await routes(replica)).map((r) => r.trigger), ['default/open']);
    assert.equal(logs.filter((l) => /hostpolicies\.control\.cosmonic\.io is not installed, so none apply; apply controller\/crd\/hostpolicies\.control\.cosmonic\.io\.yaml/.test(String(l.msg))).length, 1);
    server.uninstalled.delete('hostpolicies');
    server.put({ apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name: 'elsewhere' }, spec: { hosts: ['open.example.com'], namespaces: { names: ['other'] } } });
    await cluster.changes.until('the policy applied', () => cluster.condition('open', 'Accepted')?.reason === 'HostNotAllowed');
  });

  it('reports an invalid WorkloadDeployment and withdraws the report once it is fixed, without resolving for valid changes', async () => {
    const { server } = cluster;
    const deployment = (spec: Obj) => ({ apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'WorkloadDeployment', metadata: { name: 'plain', namespace: 'default' }, spec });
    server.put(deployment({ replicas: 1 }));
    const { replica, logs } = await cluster.controller('replica-a');
    const reported = async () => ((await adminJson(replica, '/debug/config_dump')).diagnostics as { object?: string }[]).filter((d) => d.object === 'WorkloadDeployment default/plain');
    assert.equal((await reported()).length, 1);
    const valid = { replicas: 1, template: { spec: { components: [{ name: 'c', image: 'ghcr.io/example/c:0.1.0' }] } } };
    server.put(deployment(valid));
    await cluster.changes.until('the report withdrawn', () => logs.filter((l) => l.msg === 'routing updated').length === 2);
    assert.deepEqual(await reported(), []);
    server.put(deployment({ ...valid, replicas: 2 }));
    await cluster.changes.until('the change seen', () => (replica.source.workloadDeployments()[0]?.spec.replicas === 2 ? true : undefined));
    assert.equal(logs.filter((l) => l.msg === 'routing updated').length, 2, 'a valid WorkloadDeployment changes no route');
  });

  it('resolves nothing on a status-only change, and restores a status someone else overwrote with one write', async () => {
    const { server } = cluster;
    server.put(trigger('kept', { host: 'kept.example.com' }));
    const { replica, logs } = await cluster.controller('replica-a');
    await cluster.changes.until('status', () => cluster.condition('kept', 'Programmed'));
    await replica.reconciler.idle();
    const resolves = () => logs.filter((l) => l.msg === 'routing updated').length;
    const [resolvedBefore, workWritesBefore] = [resolves(), server.workWrites().length];

    const overwritten = cluster.get('HTTPTrigger', 'kept')!;
    server.put({ ...overwritten, status: { observedGeneration: overwritten.metadata.generation, conditions: [] } });
    await cluster.changes.until('status restored', () => cluster.condition('kept', 'Programmed')?.status === 'True');
    await replica.reconciler.idle();
    const writes = server.workWrites().slice(workWritesBefore);
    assert.deepEqual(writes.map((w) => `${w.method} ${w.path}`), ['PATCH /apis/control.cosmonic.io/v1alpha1/namespaces/default/httptriggers/kept/status']);
    assert.equal(resolves(), resolvedBefore, 'no resolve for a status change');
  });

  it('re-decides only what a resolve changed: a new trigger is worked on, the settled ones are not', async () => {
    const { server } = cluster;
    for (let i = 0; i < 30; i++) server.put(trigger(`settled-${i}`, { host: `settled-${i}.example.com` }));
    const { replica } = await cluster.controller('replica-a');
    await cluster.changes.until('all written', () => cluster.condition('settled-29', 'Programmed'));
    await replica.reconciler.idle();
    // Settle: the status writes come back through the watch and are found in line.
    await cluster.changes.until('every status seen back', () => replica.source.trigger('default', 'settled-29')?.status !== undefined);
    await replica.reconciler.idle();
    const worked = replica.reconciler.worked;
    server.put(trigger('newcomer', { host: 'newcomer.example.com' }));
    await cluster.changes.until('newcomer written', () => cluster.condition('newcomer', 'Programmed'));
    await replica.reconciler.idle();
    // The newcomer, and its own writes coming back (its status, its deployment): not the 30 others.
    assert.ok(replica.reconciler.worked - worked <= 4, `${replica.reconciler.worked - worked} keys worked on`);
  });

  it('writes through a bounded pool of workers, one write per object, and says when the queue has drained', async () => {
    const { server } = cluster;
    server.writeDelayMs = 20;
    for (let i = 0; i < 12; i++) server.put(trigger(`pool-${i}`, { host: `pool-${i}.example.com` }));
    const { replica, logs } = await cluster.controller('replica-a', { reconcile: { workers: 3 } });
    const drained = await cluster.changes.until('queue drained', () => logs.find((l) => l.msg === RECONCILED && l.writes === 24));
    assert.equal(drained.retrying, 0);
    await replica.reconciler.idle();
    // The Lease's renewals are writes too, and may overlap one worker's.
    assert.ok(server.maxWritesInFlight <= 4, `${server.maxWritesInFlight} writes in flight`);
    assert.ok(server.maxWritesInFlight >= 3, 'the workers write at once');
    const perObject = new Map<string, number>();
    for (const w of server.workWrites()) perObject.set(w.path, (perObject.get(w.path) ?? 0) + 1);
    assert.equal(perObject.size, 24);
    assert.deepEqual([...new Set(perObject.values())], [1], 'one deployment and one status write per trigger');
  });

  it('paces its writes by the client-side rate limit when one is given', async () => {
    const { server } = cluster;
    for (let i = 0; i < 6; i++) server.put(trigger(`paced-${i}`, { host: `paced-${i}.example.com` }));
    const { logs } = await cluster.controller('replica-a', { reconcile: { workers: 4, rateLimit: { qps: 40, burst: 1 } } });
    await cluster.changes.until('queue drained', () => logs.find((l) => l.msg === RECONCILED && l.writes === 12));
    // 12 writes, one at once and then 40 a second: they span at least 11 × 25 ms (without the limit, a few ms).
    const writes = server.workWrites().map((w) => w.at);
    assert.equal(writes.length, 12);
    assert.ok(writes[11] - writes[0] >= 270, `the writes spanned ${(writes[11] - writes[0]).toFixed(0)} ms`);
  });

  it('reports a conflict on the younger trigger naming the winner, with an Event and an error log line', async () => {
    const { server } = cluster;
    server.put(trigger('first', { host: 'same.example.com', created: '2026-01-01T00:00:00Z' }));
    server.put(trigger('second', { host: 'same.example.com', created: '2026-01-02T00:00:00Z' }));
    const { replica, logs } = await cluster.controller('replica-a');
    const conflict = await cluster.changes.until('Accepted=False', () => cluster.condition('second', 'Accepted'));
    assert.equal(conflict.status, 'False');
    assert.equal(conflict.reason, 'Conflict');
    assert.match(conflict.message, /default\/first/);
    assert.equal(cluster.condition('second', 'Programmed')?.status, 'False');
    await cluster.changes.until('winner accepted', () => cluster.condition('first', 'Accepted')?.status === 'True');
    const [event] = await cluster.changes.until('the Conflict event', () => cluster.events('Conflict').length > 0 && cluster.events('Conflict'));
    assert.equal(event.type, 'Warning');
    assert.equal(event.involvedObject.name, 'second');
    assert.equal(event.involvedObject.kind, 'HTTPTrigger');
    assert.match(event.message, /default\/first/);
    assert.equal(event.reportingInstance, 'replica-a');
    assert.ok(logs.some((l) => l.level === 50 && l.reason === 'Conflict' && l.trigger === 'default/second'), 'error log line for the conflict');
    // One event per conflict, not one per pass.
    replica.reconciler.kick();
    await replica.reconciler.idle();
    assert.equal(cluster.events('Conflict').length, 1);
    assert.deepEqual(server.invalidWrites, []);
  });

  it('relists after 410 Gone and resumes a quiet watch from a bookmark without relisting', async () => {
    const { server } = cluster;
    server.put(trigger('keep', { host: 'keep.example.com' }));
    const { replica } = await cluster.controller('replica-a');
    await cluster.changes.until('watches open', () => server.openWatches() === RESOURCES.length);
    const lists = (plural: string) => server.lists(plural).length;
    assert.equal(lists('hosts'), 1);
    // A change no watch sees (the Workloads watch selects trigger-labelled ones): every watch falls behind…
    server.put({ ...workload('unrelated', 'x', 'h'), metadata: { name: 'unrelated', namespace: 'default' } });
    // …except the Hosts watch, which a bookmark brings up to date.
    assert.equal(server.sendBookmarks('hosts'), 1, 'the watch asked for bookmarks');
    // Compaction: older resourceVersions are gone. Watches end (after the bookmark, in stream order) and reconnect.
    server.compact();
    const triggerListsBefore = lists('httptriggers');
    server.closeWatches();
    await cluster.changes.until('httptriggers relisted after 410', () => lists('httptriggers') > triggerListsBefore);
    await cluster.changes.until('watches reopened', () => server.openWatches() === RESOURCES.length);
    assert.equal(lists('hosts'), 1, 'the bookmarked watch resumed without a relist');
    assert.equal(replica.source.read().triggers.length, 1);
    // Still live after the relist.
    server.put(trigger('late', { host: 'late.example.com' }));
    await cluster.changes.until('late trigger routed', () => replica.source.read().triggers.length === 2);
    await cluster.changes.until('late trigger status', () => cluster.condition('late', 'Programmed')?.status === 'True');
  });

  it('keeps serving the last snapshot while the API server is down, and catches up (relisting) when it is back', async () => {
    const { server } = cluster;
    server.put(trigger('a', { host: 'a.example.com' }));
    const { replica, logs } = await cluster.controller('replica-a');
    await cluster.changes.until('status', () => cluster.condition('a', 'Programmed'));
    const before = replica.controller.ads.currentSnapshot()!.version;

    await server.stop();
    await cluster.changes.until('the outage is noticed', () => logs.some((l) => /serving the last known objects/.test(l.msg)));
    assert.equal(replica.controller.ads.currentSnapshot()!.version, before);
    assert.deepEqual((await routes(replica)).map((r) => r.trigger), ['default/a']);

    // Changes made while the controller cannot see them, and history compacted meanwhile.
    server.remove('control.cosmonic.io/v1alpha1', 'HTTPTrigger', 'default', 'a');
    server.put(trigger('b', { host: 'b.example.com' }));
    server.compact();
    await server.start();
    await cluster.changes.until('b status', () => cluster.condition('b', 'Programmed')?.status === 'True');
    await cluster.changes.until('a dropped', () => replica.source.read().triggers.length === 1);
    assert.ok(logs.some((l) => l.msg === 'Kubernetes API reachable again'));
    assert.ok(cluster.get('WorkloadDeployment', 'b'));
  });

  it('writes only from the leader, and hands over when the leader stops', async () => {
    const { server } = cluster;
    server.put(trigger('led', { host: 'led.example.com' }));
    const a = await cluster.controller('replica-a');
    await cluster.changes.until('a leads', () => a.replica.elector.isLeader());
    const b = await cluster.controller('replica-b');
    await cluster.changes.until('status from a', () => cluster.condition('led', 'Programmed'));
    assert.ok(!b.replica.elector.isLeader());
    assert.ok(a.logs.some((l) => l.msg === 'WorkloadDeployment created'));
    // Both serve xDS.
    assert.deepEqual((await routes(b.replica)).map((r) => r.trigger), ['default/led']);

    // B resolves this change too, but only A writes it.
    server.put(trigger('led', { host: 'led.example.com', spec: { replicas: 2 } }));
    await cluster.changes.until('a applied', () => a.logs.some((l) => l.msg === 'WorkloadDeployment updated'));
    await b.replica.reconciler.idle();
    assert.ok(!b.logs.some((l) => /WorkloadDeployment (created|updated)/.test(l.msg)), 'the follower wrote nothing');

    await a.replica.close();
    assert.equal(cluster.get('Lease', 'wasm-control-controller', 'cosmonic-system')!.spec.holderIdentity, undefined, 'released on close');
    await cluster.changes.until('b leads', () => b.replica.elector.isLeader());
    server.put(trigger('led', { host: 'led.example.com', spec: { replicas: 4 } }));
    await cluster.changes.until('b applied', () => b.logs.some((l) => l.msg === 'WorkloadDeployment updated'));
    assert.equal(cluster.get('WorkloadDeployment', 'led')!.spec.replicas, 4);
    const lease = cluster.get('Lease', 'wasm-control-controller', 'cosmonic-system')!;
    assert.equal(lease.spec.holderIdentity, 'replica-b');
    assert.equal(lease.spec.leaseTransitions, 1);
    assert.deepEqual(server.invalidWrites, []);
  });
});
