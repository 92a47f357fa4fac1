/**
 * The controller process (`--source kubernetes`) against a real kube-apiserver
 * and kube-controller-manager, authenticated as its ServiceAccount with exactly
 * controller/rbac.yaml: triggers applied with kubectl reach a proxyless gRPC
 * xDS client, the WorkloadDeployment behind each trigger is written by
 * server-side apply and removed by the real garbage collector, status,
 * conditions and Events are written, the Lease moves to the other replica when
 * the leader dies, and the API server's audit log shows no request refused.
 *
 * The `it`s are the steps of one scenario and run in order on one cluster (its
 * start costs seconds): each step names what it proves.
 */
import * as assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { TRIGGER_LABEL } from '../../controller/api/types';
import { SHUTDOWN_GRACE_MS } from '../../controller/xds/server';
import { podEnvironment, spawnController, type ControllerProcess } from '../support/controller-process';
import { trigger } from '../support/fixtures';
import { eventually } from '../support/eventually';
import { backend, call, xdsClient } from '../support/grpc-backend';
import { ALL_CRDS, CONTROLLER_ACCOUNT, RealCluster, serviceAccountUser } from '../support/real-cluster';

const NAMESPACE = 'cosmonic-system';
const USERNAME = serviceAccountUser(NAMESPACE, CONTROLLER_ACCOUNT);
const RUNTIME = { group: 'runtime.wasmcloud.dev', version: 'v1alpha1' };

type Obj = Record<string, any>;

interface Replica extends ControllerProcess {
  name: string;
}

describe('real API server: the controller as its ServiceAccount', function () {
  this.timeout(60_000);
  let cluster: RealCluster;
  let kubeconfig: string;
  let custom: CustomObjectsApi;
  const replicas: Replica[] = [];
  const clients: grpc.Client[] = [];
  const backends: { port: number; server: grpc.Server }[] = [];

  const kubectl = (...args: string[]) => cluster.kubectlOk(args);
  const applyJson = (object: Obj, fieldManager = 'kubectl') => cluster.kubectlOk(['apply', '--server-side', `--field-manager=${fieldManager}`, '-f', '-'], { input: JSON.stringify(object) });
  const getJson = async (...args: string[]) => JSON.parse(await kubectl('get', ...args, '-o', 'json'));
  const waitFor = (what: string, condition: string, timeoutSeconds = 10, namespace = 'default') => kubectl('wait', `--for=${condition}`, `--timeout=${timeoutSeconds}s`, '-n', namespace, what);

  async function startReplica(name: string): Promise<Replica> {
    const replica = { name, ...(await spawnController([], podEnvironment(kubeconfig, name, NAMESPACE))) };
    replicas.push(replica);
    return replica;
  }

  async function routes(replica: Replica): Promise<{ trigger: string; host: string; path: string }[]> {
    return (await fetch(`http://${replica.admin}/debug/routes`)).json() as Promise<{ trigger: string; host: string; path: string }[]>;
  }

  async function leaseHolder(): Promise<string | undefined> {
    return (await getJson('lease', 'wasm-control-controller', '-n', NAMESPACE)).spec.holderIdentity;
  }

  /** A runtime object as the runtime-operator would leave it, status included (written as the admin). */
  async function runtimeObject(plural: string, object: Obj): Promise<void> {
    const { status, ...rest } = object;
    await applyJson(rest, 'runtime-operator');
    await custom.patchNamespacedCustomObjectStatus(
      { ...RUNTIME, plural, namespace: object.metadata.namespace, name: object.metadata.name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  const hostObject = (id: string, port: number) => ({
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Host',
    metadata: { name: id, namespace: 'wasmcloud', labels: { hostgroup: 'default' } },
    hostId: id,
    hostname: '127.0.0.1',
    httpPort: port,
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: '', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] },
  });

  const workloadObject = (triggerName: string, hostId: string) => ({
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: `${triggerName}-${hostId}`, namespace: 'default', labels: { [TRIGGER_LABEL]: triggerName } },
    spec: { components: [{ name: 'http', image: 'ghcr.io/example/http:0.1.0' }] },
    status: { hostId, conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: '', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] },
  });

  before(async function () {
    // The first run on a machine builds the control plane from Go modules (test/cluster/build.sh).
    this.timeout(45 * 60_000);
    cluster = await RealCluster.start({ crds: ALL_CRDS });
    custom = cluster.adminConfig().makeApiClient(CustomObjectsApi);
    await kubectl('create', 'namespace', 'wasmcloud');
    kubeconfig = await cluster.controllerAccount(NAMESPACE);
    for (const name of ['a', 'b']) backends.push(await backend(name));
    await runtimeObject('hosts', hostObject('host-a', backends[0].port));
    await runtimeObject('hosts', hostObject('host-b', backends[1].port));
  });

  const logMarks = new Map<Replica, number>();
  beforeEach(() => {
    for (const r of replicas) logMarks.set(r, r.logs.lines.length);
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const r of replicas) {
      const problems = r.logs.lines.slice(logMarks.get(r) ?? 0).filter((l) => Number(l.level) >= 40).slice(-10);
      if (problems.length) console.error(`${r.name}'s warnings and errors:\n${problems.map((l) => JSON.stringify(l)).join('\n')}`);
    }
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    for (const b of backends) b.server.forceShutdown();
    await cluster?.stop();
  });

  it('starts as the ServiceAccount (source kubernetes by default in a pod), lists every kind and takes the Lease', async () => {
    const replica = await startReplica('replica-a');
    assert.equal((await replica.logs.first((l) => l.msg === 'wasm-control listening')).source, 'kubernetes');
    await replica.logs.first((l) => /placement check is off/.test(String(l.msg)));
    await waitFor('lease/wasm-control-controller', 'jsonpath={.spec.holderIdentity}=replica-a', 20, NAMESPACE);
    assert.deepEqual(await routes(replica), []);
  });

  it('serves a trigger applied with kubectl to a gRPC xDS client within 2 s, round robin over the hosts running it', async () => {
    const [a] = replicas;
    await runtimeObject('workloads', workloadObject('echo', 'host-a'));
    await runtimeObject('workloads', workloadObject('echo', 'host-b'));
    const client = xdsClient(a.xds, 'echo.test');
    clients.push(client);
    await applyJson(trigger('echo', { host: 'echo.test', paths: [['/api', 'Prefix']] }));
    const took = await eventually(() => call(client, '/api/Echo', 500), 2000, 'the route reaches the client');
    assert.ok(took < 2000, `${took} ms`);
    const answered = new Set<string>();
    for (let i = 0; i < 6; i++) answered.add(await call(client, '/api/Echo'));
    assert.deepEqual([...answered].sort(), ['a', 'b']);
  });

  it('creates the WorkloadDeployment by server-side apply, owned by the trigger, and reports Accepted, Programmed and Ready', async () => {
    await waitFor('httptrigger/echo', 'condition=Ready');
    const stored = await getJson('httptrigger', 'echo');
    const conditions = Object.fromEntries((stored.status.conditions as Obj[]).map((c) => [c.type, c]));
    assert.equal(conditions.Accepted.status, 'True');
    assert.equal(conditions.Programmed.status, 'True');
    assert.equal(stored.status.observedGeneration, stored.metadata.generation);
    assert.equal(stored.status.endpoints, 2);
    assert.equal(stored.status.upstreamHost, 'echo.default.trigger.internal');
    const wd = await getJson('workloaddeployment', 'echo', '--show-managed-fields');
    assert.deepEqual(
      wd.metadata.ownerReferences.map((r: Obj) => [r.kind, r.name, r.uid, r.controller, r.blockOwnerDeletion]),
      [['HTTPTrigger', 'echo', stored.metadata.uid, true, true]],
    );
    assert.equal(wd.spec.template.labels[TRIGGER_LABEL], 'echo');
    const http = wd.spec.template.spec.hostInterfaces.find((h: Obj) => h.namespace === 'wasi' && h.package === 'http');
    assert.deepEqual(http.interfaces, ['incoming-handler']);
    assert.equal(http.config.host, 'echo.default.trigger.internal');
    assert.ok(wd.metadata.managedFields.some((m: Obj) => m.manager === 'wasm-control' && m.operation === 'Apply'));
  });

  it('serves an edit within 2 s and reports the new generation', async () => {
    const [a] = replicas;
    const client = clients[0];
    await applyJson(trigger('echo', { host: 'echo.test', paths: [['/healthz', 'Exact']] }));
    const took = await eventually(
      async () => {
        await call(client, '/healthz', 500);
        await assert.rejects(call(client, '/api/Echo', 500));
      },
      2000,
      'the edit reaches the client',
    );
    assert.ok(took < 2000, `${took} ms`);
    const generation = (await getJson('httptrigger', 'echo')).metadata.generation;
    await waitFor('httptrigger/echo', `jsonpath={.status.observedGeneration}=${generation}`);
    assert.deepEqual((await routes(a)).map((r) => [r.trigger, r.path]), [['default/echo', '/healthz']]);
  });

  it('reports a conflict on the younger trigger with a Warning Event naming the winner', async () => {
    await applyJson(trigger('shadow', { host: 'echo.test', paths: [['/healthz', 'Exact']] }));
    await waitFor('httptrigger/shadow', 'jsonpath={.status.conditions[?(@.type=="Accepted")].reason}=Conflict');
    const conflictEvents = async () => (await getJson('events', '--field-selector', 'reason=Conflict,involvedObject.name=shadow')).items as Obj[];
    await eventually(async () => assert.equal((await conflictEvents()).length, 1), 5000, 'the Conflict event');
    const [event] = await conflictEvents();
    assert.equal(event.type, 'Warning');
    assert.match(event.message, /default\/echo/);
    assert.equal(event.reportingInstance, 'replica-a');
  });

  it('host ownership: a HostPolicy refuses the older squatter (HostNotAllowed, with an Event) and admits the owner; a selector grant follows namespace labels at once', async () => {
    const [a] = replicas;
    const servedTo = async () => (await routes(a)).filter((r) => r.host === 'owned.test').map((r) => r.trigger);
    const accepted = (namespace: string, name: string, reason: string) => waitFor(`httptrigger/${name}`, `jsonpath={.status.conditions[?(@.type=="Accepted")].reason}=${reason}`, 10, namespace);
    await kubectl('create', 'namespace', 'squatters');
    await kubectl('create', 'namespace', 'team-a');
    await applyJson(trigger('squat', { namespace: 'squatters', host: 'owned.test' }));
    await accepted('squatters', 'squat', 'Accepted');
    await applyJson(trigger('owner', { namespace: 'team-a', host: 'owned.test' }));
    await accepted('team-a', 'owner', 'Conflict');

    const policy = { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name: 'team-a' }, spec: { hosts: ['owned.test'], namespaces: { selector: { matchLabels: { team: 'a' } } } } };
    await applyJson(policy);
    // team-a is not labelled yet: nobody may claim the host.
    await accepted('squatters', 'squat', 'HostNotAllowed');
    await accepted('team-a', 'owner', 'HostNotAllowed');
    await eventually(async () => assert.deepEqual(await servedTo(), []), 5000, 'owned.test no longer served');

    await kubectl('label', 'namespace', 'team-a', 'team=a');
    await accepted('team-a', 'owner', 'Accepted');
    await eventually(async () => assert.deepEqual(await servedTo(), ['team-a/owner']), 5000, 'the owner served');
    const refusal = (await getJson('httptrigger', 'squat', '-n', 'squatters')).status.conditions.find((c: Obj) => c.type === 'Accepted');
    assert.match(refusal.message, /reserved through owned\.test by HostPolicy team-a, which does not let namespace squatters claim it/);
    await eventually(
      async () => assert.equal((await getJson('events', '-n', 'squatters', '--field-selector', 'reason=HostNotAllowed,involvedObject.name=squat')).items[0]?.type, 'Warning'),
      5000,
      'the HostNotAllowed event',
    );
    assert.equal(a.logs.lines.filter((l) => l.reason === 'HostNotAllowed' && l.trigger === 'squatters/squat').length, 1, 'one log line per refusal');

    await kubectl('label', 'namespace', 'team-a', 'team-');
    await accepted('team-a', 'owner', 'HostNotAllowed');
    await kubectl('delete', 'hostpolicy', 'team-a');
    // Without the policy the oldest claimant wins again.
    await accepted('squatters', 'squat', 'Accepted');
    await eventually(async () => assert.deepEqual(await servedTo(), ['squatters/squat']), 5000, 'the squatter served again');
    await kubectl('delete', 'namespace', 'squatters', 'team-a', '--wait=false');
  });

  it('writes nothing for triggers that did not change, though the server adds defaults to what it stores', async () => {
    const since = cluster.auditEvents(USERNAME).length;
    // Two reconcile passes, each over every trigger, both after `since`: each marker's status comes from its own pass.
    for (const marker of ['marker-1', 'marker-2']) {
      await applyJson(trigger(marker, { host: `${marker}.test` }));
      await waitFor(`httptrigger/${marker}`, 'condition=Programmed');
    }
    const writes = cluster
      .auditEvents(USERNAME)
      .slice(since)
      .filter((e) => ['patch', 'update', 'create'].includes(e.verb) && ['echo', 'shadow'].includes(e.objectRef?.name ?? ''))
      .map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource ?? ''} ${e.objectRef?.name}`);
    assert.deepEqual(writes, []);
  });

  it('takes back a field it owns that a user edited, and leaves the user\'s own fields alone', async () => {
    await kubectl('label', 'workloaddeployment', 'echo', 'team=web');
    const generation = (await getJson('workloaddeployment', 'echo')).metadata.generation as number;
    // A real `kubectl edit`, its editor a sed that changes the replicas the controller owns.
    await cluster.kubectlOk(['edit', 'workloaddeployment', 'echo', '--output=yaml'], { env: { KUBE_EDITOR: `sed -i -e 's/^  replicas: 1$/  replicas: 7/'` } });
    // The edit and the controller's answer to it are two spec changes.
    await waitFor('workloaddeployment/echo', `jsonpath={.metadata.generation}=${generation + 2}`);
    await waitFor('workloaddeployment/echo', 'jsonpath={.spec.replicas}=1');
    const wd = await getJson('workloaddeployment', 'echo', '--show-managed-fields');
    assert.equal(wd.metadata.labels.team, 'web');
    const owners = Object.fromEntries((wd.metadata.managedFields as Obj[]).map((m) => [m.manager, JSON.stringify(m.fieldsV1)]));
    assert.match(owners['wasm-control'], /"f:replicas"/);
    assert.match(owners['kubectl-label'], /"f:team"/);
  });

  it('keeps both replicas serving xDS while only the leader writes; a killed leader\'s Lease is taken over within its duration', async () => {
    const [a] = replicas;
    const b = await startReplica('replica-b');
    const client = xdsClient(b.xds, 'echo.test');
    clients.push(client);
    assert.ok(['a', 'b'].includes(await call(client, '/healthz')));
    await applyJson(trigger('second', { host: 'second.test' }));
    await waitFor('workloaddeployment/second', 'create');
    await eventually(async () => assert.ok((await routes(b)).some((r) => r.trigger === 'default/second')), 2000, 'replica-b serves the new trigger');
    const writes = (r: Replica) => r.logs.lines.filter((l) => /^WorkloadDeployment (created|updated)$/.test(String(l.msg))).map((l) => l.workloadDeployment);
    assert.ok(writes(a).includes('default/second'));
    assert.deepEqual(writes(b), [], 'the follower wrote');
    assert.equal(await leaseHolder(), 'replica-a');

    // A gRPC xDS client left on a dead server retries for ever, and would keep the test process alive.
    clients[0].close();
    a.child.kill('SIGKILL');
    await a.exited;
    const killedAt = Date.now();
    // Both serve throughout: every call replica-b is asked while it takes over must succeed.
    let calls = 0;
    while ((await leaseHolder()) !== 'replica-b') {
      assert.ok(Date.now() - killedAt <= 30_000, 'replica-b did not take the Lease within 30 s');
      await call(client, '/healthz', 1000);
      calls++;
      await new Promise((r) => setTimeout(r, 100));
    }
    const tookOver = Date.now() - killedAt;
    // client-go's default lease (15 s) on the follower's own clock, plus one retry period (2 s) and a second for the requests.
    assert.ok(tookOver <= 18_000, `took over after ${tookOver} ms`);
    assert.ok(calls > 50, `only ${calls} calls while the Lease moved`);
    // Only a leader writes status, and replica-a is gone: the new generation's status is replica-b's.
    await applyJson(trigger('second', { host: 'second.test', paths: [['/v2', 'Prefix']] }));
    const generation = (await getJson('httptrigger', 'second')).metadata.generation;
    await waitFor('httptrigger/second', `jsonpath={.status.observedGeneration}=${generation}`);
  });

  it('drops a deleted trigger\'s routes at once, and the garbage collector deletes its WorkloadDeployment', async () => {
    const b = replicas[1];
    await kubectl('delete', 'httptrigger', 'echo');
    await eventually(
      async () => assert.deepEqual((await routes(b)).filter((r) => r.path === '/healthz').map((r) => r.trigger), ['default/shadow']),
      2000,
      'the routes move to the trigger that lost the conflict',
    );
    await waitFor('workloaddeployment/echo', 'delete', 60);
    await waitFor('httptrigger/shadow', 'condition=Accepted');
  });

  it('was never refused by the API server: no 403 in the audit log of its ServiceAccount', async () => {
    const b = replicas[1];
    // A closed gRPC xDS client keeps its HTTP/2 session to the server: shutdown cuts it after its grace period.
    clients[1].close();
    const terminatedAt = Date.now();
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0);
    assert.ok(Date.now() - terminatedAt < SHUTDOWN_GRACE_MS + 3000, `exited ${Date.now() - terminatedAt} ms after SIGTERM`);
    clients[1].close();
    assert.equal(await leaseHolder(), undefined, 'SIGTERM releases the Lease');
    const events = cluster.auditEvents(USERNAME);
    const refused = events.filter((e) => e.responseStatus?.code === 403);
    assert.deepEqual(refused.map((e) => `${e.verb} ${e.requestURI}: ${e.responseStatus?.message}`), []);
    const did = new Set(events.filter((e) => (e.responseStatus?.code ?? 500) < 300).map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`));
    assert.deepEqual(events.filter((e) => e.verb === 'delete' || e.verb === 'deletecollection').map((e) => e.requestURI), [], 'the controller deletes nothing itself');
    for (const expected of ['list httptriggers', 'watch httptriggers', 'watch hosts', 'patch workloaddeployments', 'patch httptriggers/status', 'create events', 'update leases']) {
      assert.ok(did.has(expected), `no successful ${expected} in ${[...did].join(', ')}`);
    }
  });
});
