/**
 * The cost of HostPolicy checks in a resolve (`npm run bench`; alone: `node dist/bench/host-ownership.js`).
 */
import { checkedHostPolicy } from '../controller/api/host-policy';
import { Pipeline } from '../controller/pipeline';
import { oneEditTimes, syntheticFleet } from './fixtures';
import { median, runBench, time } from './stats';

/**
 * What HostPolicy checks add to a resolve: every trigger's host under a `*.example.com` policy
 * granted by label selector (50 labelled namespaces), plus 50 exact reservations.
 */
export function benchHostOwnership(count: number): void {
  const fleet = syntheticFleet(count);
  const namespaces = Array.from({ length: 50 }, (_, i) => ({ name: `team-${i}`, labels: { tenant: 'yes', team: String(i) } }));
  const hostPolicies = [
    checkedHostPolicy({ apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name: 'tenants' }, spec: { hosts: ['*.example.com'], namespaces: { selector: { matchLabels: { tenant: 'yes' } } } } }).policy!,
    ...Array.from({ length: 50 }, (_, i) => checkedHostPolicy({ apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name: `exact-${i}` }, spec: { hosts: [`app-${i}.example.com`], namespaces: { names: [`team-${i % 50}`] } } }).policy!),
  ];
  const figures = (input: typeof fleet & { hostPolicies?: typeof hostPolicies; namespaces?: typeof namespaces }) => {
    new Pipeline().run(input);
    const full: number[] = [];
    for (let run = 0; run < 7; run++) full.push(time(() => new Pipeline().run(input)));
    const pipeline = new Pipeline();
    pipeline.run(input);
    const triggers = [...input.triggers];
    const oneChange = oneEditTimes(triggers, (edited) => pipeline.run({ ...input, triggers: edited }));
    return { full: median(full), oneChange: median(oneChange), admitted: pipeline.run({ ...input, triggers }).model.admitted.length };
  };
  const without = figures(fleet);
  const withPolicies = figures({ ...fleet, hostPolicies, namespaces });
  if (withPolicies.admitted !== count) throw new Error(`the bench's policies refused ${count - withPolicies.admitted} triggers`);
  console.log(
    `  ${count} triggers, resolve+translate (objects validated): no HostPolicy ${without.full.toFixed(1)} ms, one change ${without.oneChange.toFixed(2)} ms` +
      ` | 51 HostPolicies (a selector grant over every host, 50 exact) ${withPolicies.full.toFixed(1)} ms, one change ${withPolicies.oneChange.toFixed(2)} ms`,
  );
}


if (require.main === module) {
  runBench('wasm-control host-ownership bench', () => benchHostOwnership(10000));
}
