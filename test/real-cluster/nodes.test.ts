/**
 * The test cluster with simulated nodes: kube-scheduler places a Deployment's
 * pods on kwok nodes, kwok reports them Running and Ready, and the Deployment
 * becomes Available, so clients that wait for workloads (Pulumi's await logic,
 * `kubectl rollout status`) see what a real cluster shows them.
 */
import * as assert from 'node:assert/strict';
import { RealCluster } from '../support/real-cluster';

describe('real API server: simulated nodes (kube-scheduler + kwok)', function () {
  this.timeout(60_000);
  let cluster: RealCluster;

  before(async function () {
    // The first run on a machine builds the control plane from Go modules (test/cluster/build.sh).
    this.timeout(45 * 60_000);
    cluster = await RealCluster.start({ nodes: 2 });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('has Ready nodes, and runs a Deployment until it is Available', async () => {
    const nodes = JSON.parse(await cluster.kubectlOk(['get', 'nodes', '-o', 'json'])).items as Record<string, any>[];
    assert.deepEqual(nodes.map((n) => n.status.conditions.find((c: { type: string }) => c.type === 'Ready').status), ['True', 'True']);
    await cluster.kubectlOk(['create', 'deployment', 'web', '--image=registry.example/web:1', '--replicas=3']);
    await cluster.kubectlOk(['rollout', 'status', 'deployment/web', '--timeout=45s']);
    const deployment = JSON.parse(await cluster.kubectlOk(['get', 'deployment', 'web', '-o', 'json']));
    assert.equal(deployment.status.availableReplicas, 3);
    const pods = JSON.parse(await cluster.kubectlOk(['get', 'pods', '-l', 'app=web', '-o', 'json'])).items as Record<string, any>[];
    assert.equal(pods.length, 3);
    for (const pod of pods) {
      assert.equal(pod.status.phase, 'Running');
      assert.match(pod.spec.nodeName, /^kwok-node-\d$/);
      assert.match(pod.status.podIP, /^10\.244\./);
    }
  });
});
