/**
 * What the controller writes to a real kube-apiserver, counted by the server's own audit log
 * (not by the controller's word): on a first start one WorkloadDeployment apply and one status
 * patch per trigger; on a restart with nothing changed, nothing; for one edited trigger, exactly
 * one of each, with its new route at an xDS client within 1 s.
 *
 * The `it`s are the steps of one scenario and run in order on one cluster.
 */
import * as assert from 'node:assert/strict';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { RECONCILED } from '../../controller/reconcile/reconciler';
import { podEnvironment, spawnController, type ControllerProcess } from '../support/controller-process';
import { trigger } from '../support/fixtures';
import { ALL_CRDS, CONTROLLER_ACCOUNT, RealCluster, serviceAccountUser, workWrites } from '../support/real-cluster';
import { servedAfter } from '../support/route-watch';

const NAMESPACE = 'cosmonic-system';
const USERNAME = serviceAccountUser(NAMESPACE, CONTROLLER_ACCOUNT);
const COUNT = Number(process.env.WRITES_COUNT ?? 40);

describe('real API server: what the controller writes, by the audit log', function () {
  this.timeout(60_000);
  let cluster: RealCluster;
  let env: NodeJS.ProcessEnv;
  let controller: ControllerProcess | undefined;
  let auditMark = 0;

  /** The controller's writes since the last call (Lease renewals aside), as `verb resource[/subresource] name`. */
  function writesSinceLastLook(): string[] {
    const { events, end } = cluster.auditEventsFrom(auditMark, USERNAME);
    auditMark = end;
    return workWrites(events)
      .map((e) => `${e.verb} ${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''} ${e.objectRef?.name}`)
      .sort();
  }

  async function stopController(): Promise<void> {
    controller!.child.kill('SIGTERM');
    assert.equal(await controller!.exited, 0);
  }

  before(async function () {
    // The first run on a machine builds the control plane from Go modules (test/cluster/build.sh).
    this.timeout(45 * 60_000);
    cluster = await RealCluster.start({ crds: ALL_CRDS, controllerManager: false });
    env = podEnvironment(await cluster.controllerAccount(NAMESPACE), 'writer', NAMESPACE);
    const triggers = Array.from({ length: COUNT }, (_, i) => trigger(`app-${i}`, { host: `app-${i}.example.com`, paths: [['/api', 'Prefix']] }));
    await cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: triggers }) });
  });

  afterEach(function () {
    if (this.currentTest?.state !== 'failed' || !controller) return;
    const problems = controller.logs.lines.filter((l) => Number(l.level) >= 40 || /leader|drained|listing/.test(String(l.msg))).slice(-15);
    console.error(`the controller's warnings and errors:\n${problems.map((l) => JSON.stringify(l)).join('\n')}`);
  });

  after(async () => {
    if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
    await controller?.exited;
    await cluster?.stop();
  });

  it('first start: one WorkloadDeployment apply and one status patch per trigger, nothing else', async () => {
    controller = await spawnController([], env);
    const drained = await controller.logs.first((l) => l.msg === RECONCILED);
    assert.equal(drained.retrying, 0);
    const stored = JSON.parse(await cluster.kubectlOk(['get', 'httptriggers', '-n', 'default', '-o', 'json'])).items as { status?: { workloadDeployment?: string } }[];
    assert.equal(stored.filter((t) => t.status?.workloadDeployment).length, COUNT, 'every trigger has its status');
    // Stopped, so any late write is counted too.
    await stopController();
    const expected = Array.from({ length: COUNT }, (_, i) => [`patch httptriggers/status app-${i}`, `patch workloaddeployments app-${i}`]).flat().sort();
    assert.deepEqual(writesSinceLastLook(), expected);
  });

  it('a restart with nothing changed writes nothing', async () => {
    controller = await spawnController([], env);
    const drained = await controller.logs.first((l) => l.msg === RECONCILED);
    assert.equal(drained.writes, 0);
    assert.equal(drained.triggers, COUNT);
    assert.deepEqual(writesSinceLastLook(), []);
  });

  it('one trigger edited: its new route served within 1 s, one WorkloadDeployment apply and one status patch', async () => {
    const custom = cluster.adminConfig().makeApiClient(CustomObjectsApi);
    const drainedAgain = controller!.logs.next((l) => l.msg === RECONCILED);
    const took = await servedAfter(controller!.xds, 'edited.example.com', () =>
      custom.patchNamespacedCustomObject(
        {
          group: 'control.cosmonic.io',
          version: 'v1alpha1',
          namespace: 'default',
          plural: 'httptriggers',
          name: 'app-7',
          body: { spec: { ingress: { host: 'edited.example.com' }, template: { spec: { components: [{ name: 'http', image: 'ghcr.io/example/http:0.2.0' }] } } } },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      ),
    );
    assert.ok(took < 1000, `${took.toFixed(0)} ms`);
    assert.equal((await drainedAgain).writes, 2);
    await stopController();
    assert.deepEqual(writesSinceLastLook(), ['patch httptriggers/status app-7', 'patch workloaddeployments app-7']);
  });
});
