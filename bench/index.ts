/**
 * `npm run bench`: routing-core and xDS figures on this machine (medians).
 * Not a test: it prints numbers for the closing notes and the README.
 */
import { Pipeline } from '../controller/pipeline';
import { SnapshotBuilder, SOTW_TYPE_ORDER, type Snapshot } from '../controller/xds/snapshot';
import { oneEditTimes, syntheticFleet } from './fixtures';
import { median, mib, runBench, time } from './stats';
import { benchHostOwnership } from './host-ownership';
import { benchKubernetes } from './kubernetes';
import { benchStalledClients } from './stalled-clients';
import { benchXds } from './xds';

function responseSizes(snapshot: Snapshot): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const typeUrl of SOTW_TYPE_ORDER) {
    let total: number;
    total = snapshot.types.get(typeUrl)!.body.length;
    sizes.set(typeUrl.split('.').pop()!, total);
  }
  return sizes;
}

function benchRoutingCore(count: number): void {
  // Cold: objects never seen, so every trigger is validated (a controller starting).
  const full: number[] = [];
  let snapshot: Snapshot | undefined;
  for (let run = 0; run < 7; run++) {
    const fresh = syntheticFleet(count);
    global.gc?.();
    full.push(
      time(() => {
        const out = new Pipeline().run(fresh);
        snapshot = new SnapshotBuilder().build(out.envoy);
      }),
    );
  }
  // Warm: a new pipeline and builder over objects already validated (validation is memoized per object).
  const fleet = syntheticFleet(count);
  new Pipeline().run(fleet);
  const rebuilt: number[] = [];
  for (let run = 0; run < 7; run++) {
    global.gc?.();
    rebuilt.push(time(() => new SnapshotBuilder().build(new Pipeline().run(fleet).envoy)));
  }
  const pipeline = new Pipeline();
  const builder = new SnapshotBuilder();
  builder.build(pipeline.run(fleet).envoy);
  const oneChange = oneEditTimes([...fleet.triggers], (triggers) => builder.build(pipeline.run({ ...fleet, triggers }).envoy));
  const sizes = responseSizes(snapshot!);
  const largest = [...sizes].sort((a, b) => b[1] - a[1])[0];
  console.log(
    `  ${String(count).padStart(6)} triggers: full validate+resolve+translate+encode median ${median(full).toFixed(1)} ms` +
      ` (objects already validated: ${median(rebuilt).toFixed(1)} ms)` +
      ` | one trigger changed median ${median(oneChange).toFixed(2)} ms` +
      ` | largest response ${largest[0]} ${mib(largest[1])}` +
      ` (${[...sizes].map(([t, s]) => `${t} ${mib(s)}`).join(', ')})` +
      ` | RSS ${mib(process.memoryUsage().rss)}`,
  );
}

async function main(): Promise<void> {
  console.log('Routing core (each trigger: own domain, Prefix /api + Exact /healthz, 3 hosts):');
  for (const count of [1000, 10000]) benchRoutingCore(count);
  console.log('Host ownership:');
  benchHostOwnership(10000);
  await benchXds();
  await benchStalledClients();
  await benchKubernetes([1000, 10000]);
}

runBench('wasm-control bench', main);
