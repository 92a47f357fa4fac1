/**
 * `npm run local-up`: the README's "From clone to `pulumi up`" without Docker or a cloud. Starts
 * the test control plane (kube-apiserver, etcd, kube-controller-manager, kube-scheduler, kwok's
 * simulated nodes, built from Go modules), runs `pulumi up` of the program with the stack the
 * end-to-end test uses (stand-in charts, Envoy on node port 30950, hello-world and blobby), then
 * the controller against it as its ServiceAccount, serving xDS on 127.0.0.1:18000 and its admin
 * endpoints on 127.0.0.1:9902, until Ctrl-C, which destroys the stack and stops everything.
 * Nothing runs in the pods (kwok), so there is no HTTP to curl: the routes are the product.
 */
import { e2eStackSettings, e2eXdsCertificates, startController } from './support/e2e-stack';
import { ProgramStack } from './support/pulumi-program';
import { RealCluster } from './support/real-cluster';

async function main(): Promise<void> {
  console.log('starting the test control plane (the first run builds it and the Pulumi CLI from Go modules: 20-25 min)');
  const cluster = await RealCluster.start({ nodes: 2 });
  let stack: ProgramStack | undefined;
  const stop = async () => {
    try {
      await stack?.destroy();
    } finally {
      stack?.remove();
      await cluster.stop();
    }
  };
  try {
    console.log(`cluster up; kubectl --kubeconfig ${cluster.adminKubeconfig} get pods -A`);
    stack = await ProgramStack.create('local', e2eStackSettings(cluster.adminKubeconfig, await e2eXdsCertificates(cluster.dir)), { echo: true });
    const { outputs } = await stack.up();
    const controller = await startController(cluster, { xds: '127.0.0.1:18000', admin: '127.0.0.1:9902' });
    console.log(`\noutputs: ${JSON.stringify(Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.secret ? '[secret]' : v.value])), null, 2)}`);
    console.log(`the controller serves xDS on ${controller.xds}; its routes: curl http://${controller.admin}/debug/routes`);
    console.log('Ctrl-C destroys the stack and stops everything.');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    controller.child.kill('SIGTERM');
    await controller.exited;
  } finally {
    await stop();
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
