/**
 * The reconciler's decisions for one trigger, without an API server: what it
 * applies, the status it writes and the Events it records, for every outcome.
 */
import * as assert from 'node:assert/strict';
import type { HTTPTrigger, WorkloadDeployment } from '../controller/api/types';
import { resolveRoutes } from '../controller/resolve/resolve';
import { EndpointsByTrigger } from '../controller/resolve/endpoints';
import { decideTrigger, type TriggerDecision, type TriggerFacts } from '../controller/reconcile/decide';
import type { PlacementVerdict } from '../controller/placement/hosts';
import { trigger } from './support/fixtures';

type Obj = Record<string, any>;

const NOW = '2026-12-07T12:00:00Z';

function stored(name: string, options: Parameters<typeof trigger>[1] = {}): HTTPTrigger {
  const t = trigger(name, options) as Obj;
  t.metadata.uid = `uid-${name}`;
  t.metadata.generation = 2;
  return t as HTTPTrigger;
}

/** The pipeline's verdict on the trigger, as the reconciler receives it. */
function rejectionOf(t: HTTPTrigger, neighbours: HTTPTrigger[] = []) {
  return resolveRoutes({ triggers: [...neighbours, t], endpoints: new EndpointsByTrigger() }).diagnostics.find((d) => d.trigger === `default/${t.metadata.name}`);
}

function decide(t: HTTPTrigger, facts: Partial<TriggerFacts> = {}): TriggerDecision {
  return decideTrigger({ trigger: t, endpoints: 0, ignoredEndpoints: [], now: NOW, rejection: rejectionOf(t), ...facts });
}

const condition = (d: TriggerDecision, type: string) => d.status.conditions?.find((c) => c.type === type);
const statuses = (d: TriggerDecision) => Object.fromEntries((d.status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

function foreignDeployment(name: string): WorkloadDeployment {
  return {
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'WorkloadDeployment',
    metadata: { name, namespace: 'default', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'other', uid: 'someone-else', controller: true }] },
    spec: { template: { spec: {} } },
  } as WorkloadDeployment;
}

const unplaceable: PlacementVerdict = { status: 'False', reason: 'InterfaceUnavailable', message: 'no Ready host provides wasi:webgpu/webgpu' };

describe('reconcile: decisions for one trigger (pure)', () => {
  const cases: { outcome: string; decision: () => TriggerDecision; applies: boolean; conditions: Record<string, string>; events: string[] }[] = [
    {
      outcome: 'ready: admitted with endpoints',
      decision: () => decide(stored('web'), { endpoints: 2 }),
      applies: true,
      conditions: { Accepted: 'True/Accepted', Programmed: 'True/Programmed', Ready: 'True/EndpointsReady' },
      events: [],
    },
    {
      outcome: 'not ready: admitted, no endpoints yet',
      decision: () => decide(stored('web')),
      applies: true,
      conditions: { Accepted: 'True/Accepted', Programmed: 'True/Programmed', Ready: 'False/NoEndpoints' },
      events: [],
    },
    {
      outcome: 'conflict: a younger trigger on a route an older one holds',
      decision: () => {
        const older = stored('older', { host: 'same.example.com', created: '2026-01-01T00:00:00Z' });
        const younger = stored('younger', { host: 'same.example.com', created: '2026-01-02T00:00:00Z' });
        return decide(younger, { rejection: rejectionOf(younger, [older]) });
      },
      applies: true,
      conditions: { Accepted: 'False/Conflict', Programmed: 'False/NotAccepted', Ready: 'False/NotAccepted' },
      events: ['Conflict'],
    },
    {
      outcome: 'invalid: a malformed host',
      decision: () => decide(stored('bad', { host: 'not a host' })),
      applies: false,
      conditions: { Accepted: 'False/Invalid', Programmed: 'False/NotAccepted', Ready: 'False/NotAccepted' },
      events: ['Invalid'],
    },
    {
      outcome: 'unsupported path type',
      decision: () => decide(stored('impl', { paths: [['/', 'ImplementationSpecific']] })),
      applies: false,
      conditions: { Accepted: 'False/UnsupportedPathType', Programmed: 'False/NotAccepted', Ready: 'False/NotAccepted' },
      events: ['UnsupportedPathType'],
    },
    {
      outcome: 'not placeable: no host provides an interface it needs',
      decision: () => decide(stored('gpu'), { place: () => unplaceable }),
      applies: true,
      conditions: { Accepted: 'True/Accepted', Programmed: 'True/Programmed', Ready: 'False/NoEndpoints', Placeable: 'False/InterfaceUnavailable' },
      events: ['InterfaceUnavailable'],
    },
    {
      outcome: 'a WorkloadDeployment of its name that it does not own',
      decision: () => decide(stored('taken'), { deployment: foreignDeployment('taken') }),
      applies: false,
      conditions: { Accepted: 'True/Accepted', Programmed: 'True/Programmed', Ready: 'False/DeploymentNotOwned' },
      events: ['DeploymentNotOwned'],
    },
  ];

  for (const { outcome, decision, applies, conditions, events } of cases) {
    it(`${outcome}: ${applies ? 'applies its WorkloadDeployment' : 'applies nothing'}, ${JSON.stringify(conditions)}, events ${JSON.stringify(events)}`, () => {
      const d = decision();
      assert.equal(d.apply !== undefined, applies);
      assert.deepEqual(statuses(d), conditions);
      assert.deepEqual(d.events.map((e) => e.reason), events);
      for (const c of d.status.conditions ?? []) assert.equal(c.observedGeneration, 2);
    });
  }

  it('applies a WorkloadDeployment owned by the trigger, with the trigger label and the upstream host', () => {
    const d = decide(stored('web'));
    const wd = d.apply!;
    assert.equal(wd.metadata.name, 'web');
    assert.deepEqual(
      wd.metadata.ownerReferences?.map((r) => [r.kind, r.uid, r.controller, r.blockOwnerDeletion]),
      [['HTTPTrigger', 'uid-web', true, true]],
    );
    assert.equal(d.status.upstreamHost, 'web.default.trigger.internal');
    assert.equal(d.status.workloadDeployment, 'web');
  });

  it('names the winner in a conflict\'s status and Event', () => {
    const older = stored('older', { host: 'same.example.com', created: '2026-01-01T00:00:00Z' });
    const younger = stored('younger', { host: 'same.example.com', created: '2026-01-02T00:00:00Z' });
    const d = decide(younger, { rejection: rejectionOf(younger, [older]) });
    assert.match(String(condition(d, 'Accepted')?.message), /default\/older/);
    assert.match(d.events[0].message, /default\/older/);
  });

  it('keeps a condition\'s transition time while its status holds, and stamps now when it changes', () => {
    const first = decide(stored('web'));
    const t = stored('web');
    t.status = { ...first.status, conditions: first.status.conditions?.map((c) => ({ ...c, lastTransitionTime: '2026-01-01T00:00:00Z' })) };
    const again = decideTrigger({ trigger: t, endpoints: 1, ignoredEndpoints: [], now: NOW });
    assert.equal(condition(again, 'Accepted')!.lastTransitionTime, '2026-01-01T00:00:00Z');
    assert.equal(condition(again, 'Ready')!.lastTransitionTime, NOW, 'Ready went from False to True');
  });

  it('asks the placement check about the WorkloadSpec it applies, and only for a trigger it can apply', () => {
    const asked: unknown[] = [];
    decide(stored('web', { spec: { hostSelector: { hostgroup: 'gpu' } } }), { place: (request) => (asked.push(request), undefined) });
    const expected: unknown[] = [
      { hostInterfaces: [{ namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], config: { host: 'web.default.trigger.internal' } }], hostSelector: { hostgroup: 'gpu' }, hostId: undefined },
    ];
    assert.deepEqual(asked, expected);
    decide(stored('bad', { host: 'not a host' }), { place: (request) => (asked.push(request), undefined) });
    assert.equal(asked.length, 1);
  });
});
