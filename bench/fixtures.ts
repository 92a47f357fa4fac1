/**
 * Synthetic clusters for benchmarks: N triggers, each on its own domain with two
 * paths, served by three hosts. Objects come out of JSON.parse, as the
 * controller gets them from the API server: each object its own, every string
 * flat (template literals would hand over concatenation trees that the first
 * reader pays to flatten).
 */
import type { Host, HTTPTrigger, Workload } from '../controller/api/types';
import { TRIGGER_LABEL } from '../controller/api/types';
import { time } from './stats';

export interface Fleet {
  triggers: HTTPTrigger[];
  workloads: Workload[];
  hosts: Host[];
}

const READY = [{ type: 'Ready', status: 'True' as const, reason: 'Available' }];

/**
 * Times of `rounds` one-trigger edits, each a different trigger's Prefix path changed in `triggers`
 * (edited in place) and handed to `run`; for the one-change figures.
 */
export function oneEditTimes(triggers: HTTPTrigger[], run: (triggers: HTTPTrigger[]) => void, rounds = 21): number[] {
  const times: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const i = (round * 7919) % triggers.length;
    triggers[i] = syntheticTrigger(i, round);
    times.push(time(() => run(triggers)));
  }
  return times;
}

/** Trigger `i` (its own host, Prefix /api and Exact /healthz), in one of `teams` namespaces; `variant` changes its Prefix path. */
export function syntheticTrigger(i: number, variant = 0, teams = 50): HTTPTrigger {
  return asParsed(triggerObject(i, variant, teams));
}

function asParsed<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function triggerObject(i: number, variant: number, teams = 50): HTTPTrigger {
  return {
    apiVersion: 'control.cosmonic.io/v1alpha1',
    kind: 'HTTPTrigger',
    metadata: { name: `app-${i}`, namespace: `team-${i % teams}`, creationTimestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString() },
    spec: {
      ingress: {
        host: `app-${i}.example.com`,
        paths: [
          { path: variant === 0 ? '/api' : `/api-v${variant}`, pathType: 'Prefix' },
          { path: '/healthz', pathType: 'Exact' },
        ],
      },
      template: { spec: { components: [{ name: 'http', image: `registry.example.com/app-${i}:1.0.0` }] } },
    },
  };
}

export function syntheticFleet(count: number, hostsPerTrigger = 3, hostPool = 300): Fleet {
  const hosts: Host[] = [];
  for (let h = 0; h < hostPool; h++) {
    hosts.push({
      apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
      kind: 'Host',
      metadata: { name: `host-${h}`, namespace: 'wasmcloud-system' },
      hostId: `host-${h}`,
      hostname: `10.${(h >> 8) & 255}.${h & 255}.10`,
      httpPort: 9191,
      status: { conditions: READY },
    });
  }
  const triggers: HTTPTrigger[] = [];
  const workloads: Workload[] = [];
  for (let i = 0; i < count; i++) {
    const trigger = triggerObject(i, 0);
    triggers.push(trigger);
    for (let r = 0; r < hostsPerTrigger; r++) {
      workloads.push({
        apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
        kind: 'Workload',
        metadata: { name: `app-${i}-${r}`, namespace: trigger.metadata.namespace, labels: { [TRIGGER_LABEL]: trigger.metadata.name } },
        spec: trigger.spec.template.spec,
        status: { hostId: `host-${(i * hostsPerTrigger + r) % hostPool}`, conditions: READY },
      });
    }
  }
  return asParsed({ triggers, workloads, hosts });
}
