import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { TRIGGER_API_VERSION } from '../controller/api/types';
import { checkHTTPTrigger, type ValidTrigger } from '../controller/api/validate';
import { routeClaimCollisions } from '../controller/resolve/resolve';
import { IngressProvider } from './args';
import { ControlPlaneInternals } from './control-plane-registry';
import { TRAEFIK_INGRESS_CLASS, traefikAnnotations } from './edge';
import { INGRESS_SERVICE, labels, PORTS, serviceDns } from './names';
import { HttpTriggerArgs } from './workload-args';
import { checkFailure, knownForCheck, placementProblem, perRunRegistry, withoutUndefined, workloadBasics, workloadSpec } from './workload-checks';

const DEFAULT_PATHS = [{ path: '/', pathType: 'Prefix' }];

/** The valid triggers of this program run: route conflicts are found among them. */
const triggersThisRun = perRunRegistry(() => [] as ValidTrigger[]);

/**
 * An HTTP-driven WebAssembly workload: the HTTPTrigger custom resource, which
 * routes a host (and paths) through Envoy to the workload and owns the
 * WorkloadDeployment that runs it.
 *
 * Mistakes the controller would find after deploy fail the preview instead,
 * with the controller's words: an invalid manifest or an unsupported path
 * type, a (host, path, pathType) another trigger of the program claims, and
 * interfaces the target host group does not advertise.
 *
 * With `controlPlane`, the trigger is created after the HTTPTrigger CRD, and
 * its host is routed from the edge proxy (a Traefik Ingress, or an Istio
 * Gateway and VirtualService) unless the control plane's `ingress.hosts`
 * already route it.
 */
export class HttpTrigger extends pulumi.ComponentResource {
  /** The HTTPTrigger's name. */
  public readonly triggerName!: pulumi.Output<string>;
  /** The HTTPTrigger's namespace. */
  public readonly namespace!: pulumi.Output<string>;
  /** The URL of the trigger's first path on its host. */
  public readonly url!: pulumi.Output<string>;
  /** The Host header Envoy sends to the workload (its wasi:http `config.host`). */
  public readonly upstreamHost!: pulumi.Output<string>;

  constructor(name: string, args: HttpTriggerArgs, opts?: pulumi.ComponentResourceOptions) {
    // Everything is checked before registering; the error is raised on the component once it exists.
    const plan = opts?.urn ? undefined : planHttpTrigger(name, args ?? ({} as HttpTriggerArgs));
    super('wasm-control:index:HttpTrigger', name, opts?.urn ? {} : args, opts);
    if (!plan) return; // rehydrated from a URN: the outputs come from state
    if (plan.problems.length > 0) throw new pulumi.ResourceError(checkFailure('HTTPTrigger', plan.key, plan.problems), this);
    const trigger = plan.trigger!;

    new k8s.apiextensions.CustomResource(`${name}-httptrigger`, plan.manifest as k8s.apiextensions.CustomResourceArgs, {
      parent: this,
      dependsOn: plan.controlPlane?.triggersAfter ?? [],
    });
    if (plan.controlPlane && plan.exposeAtEdge) exposeAtEdge(this, name, plan.controlPlane, trigger);

    const first = trigger.paths[0];
    this.triggerName = pulumi.output(trigger.name);
    this.namespace = pulumi.output(trigger.namespace);
    this.url = pulumi.output(`http://${trigger.host}${first.path}`);
    this.upstreamHost = pulumi.output(trigger.upstreamHost);
    this.registerOutputs({ triggerName: this.triggerName, namespace: this.namespace, url: this.url, upstreamHost: this.upstreamHost });
  }
}

export interface HttpTriggerPlan {
  key: string;
  manifest: Record<string, unknown>;
  trigger?: ValidTrigger;
  controlPlane?: ControlPlaneInternals;
  /** The control plane's edge does not route the host yet. */
  exposeAtEdge: boolean;
  problems: string[];
}

/** Builds the manifest and runs every check; never throws. Valid triggers join this run's registry. */
export function planHttpTrigger(componentName: string, args: HttpTriggerArgs): HttpTriggerPlan {
  const { name, namespace, key, controlPlane, selector, problems } = workloadBasics(componentName, args);

  const ingress = args.ingress !== null && typeof args.ingress === 'object' ? { ...args.ingress, paths: args.ingress.paths ?? DEFAULT_PATHS } : args.ingress;
  const manifest = {
    apiVersion: TRIGGER_API_VERSION,
    kind: 'HTTPTrigger',
    metadata: { name, namespace },
    spec: withoutUndefined({
      replicas: args.replicas,
      deployPolicy: args.deployPolicy,
      hostSelector: selector,
      timeout: args.timeout,
      ingress,
      template: { spec: workloadSpec(args) },
    }),
  };

  const check = checkHTTPTrigger(knownForCheck(manifest));
  let trigger: ValidTrigger | undefined;
  let refusal: string | undefined;
  if (!check.ok) {
    problems.push(`the controller would skip this trigger (${check.diagnostic.reason}): ${check.diagnostic.message}`);
  } else if ((refusal = hostRefusal(controlPlane, check.trigger))) {
    // As in the controller: a trigger refused its host takes no part in conflicts.
    problems.push(`the controller would skip this trigger (HostNotAllowed): ${refusal}`);
  } else {
    trigger = check.trigger;
    const others = triggersThisRun();
    if (others.some((t) => t.key === key)) {
      problems.push(`HTTPTrigger ${key} is defined more than once; only the oldest is used: give each HttpTrigger its own name or namespace`);
    } else {
      // Registered before reporting, so a third claimant's message names this one too.
      others.push(trigger);
      for (const c of routeClaimCollisions(others).filter((c) => c.triggers.includes(key))) {
        problems.push(
          `conflict: host ${c.host} path ${c.match.path} (${c.match.type}) is claimed by HTTPTrigger ${c.triggers.join(', ')}; the controller routes it to the oldest and skips the others whole: give each trigger its own host or paths`,
        );
      }
    }
  }
  const placement = placementProblem(args.hostInterfaces, args.hostGroup);
  if (placement) problems.push(placement);

  const edge = controlPlane?.settings.ingress;
  const exposeAtEdge = !!trigger && !!edge?.enabled && !edge.hosts.some((h) => hostCovers(h.host, trigger.host));
  return { key, manifest, trigger, controlPlane, exposeAtEdge, problems };
}

/**
 * Why the ControlPlane's host policy refuses the trigger its host, or undefined. Namespace labels are
 * not known here: a selector grant is left to the controller. Policies applied outside the program
 * are not seen either: `hostPolicy.checkTriggers: false` leaves every decision to the controller.
 */
function hostRefusal(controlPlane: ControlPlaneInternals | undefined, trigger: ValidTrigger): string | undefined {
  if (!controlPlane?.settings.hostPolicy.checkTriggers) return undefined;
  const verdict = controlPlane.settings.hostPolicy.ownership.check(trigger.namespace, trigger.host);
  return verdict.allowed === false ? verdict.message : undefined;
}

/** Whether an edge route for `routed` (exact, or `*.suffix` for one label) already carries requests for `host`. */
export function hostCovers(routed: string, host: string): boolean {
  const r = routed.toLowerCase();
  if (r === host) return true;
  if (!r.startsWith('*.') || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot) === r.slice(1);
}

/** A DNS label naming the edge objects of a trigger, unique per `namespace/name`. */
export function edgeObjectName(namespace: string, name: string): string {
  const full = `trigger-${namespace}-${name}`.replace(/\./g, '-');
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** Routes the trigger's host and paths from the edge proxy to Envoy's `ingress` Service. */
function exposeAtEdge(parent: HttpTrigger, name: string, cp: ControlPlaneInternals, trigger: ValidTrigger): void {
  const s = cp.settings;
  const objectName = edgeObjectName(trigger.namespace, trigger.name);
  const backend = { service: { name: INGRESS_SERVICE, port: { number: PORTS.ingressService } } };
  if (s.ingress.provider === IngressProvider.Traefik) {
    new k8s.networking.v1.Ingress(
      `${name}-edge`,
      {
        metadata: { name: objectName, namespace: s.namespace, labels: labels('edge'), annotations: traefikAnnotations(undefined) },
        spec: {
          ingressClassName: TRAEFIK_INGRESS_CLASS,
          rules: [{ host: trigger.host, http: { paths: trigger.paths.map((p) => ({ path: p.path, pathType: p.type, backend })) } }],
        },
      },
      // After the Traefik chart, so the IngressClass exists.
      { parent, dependsOn: cp.traefik ? [cp.traefik] : [] },
    );
    return;
  }
  // Istio binds a VirtualService only to a Gateway that lists its host, and the control plane's lists its own hosts.
  new k8s.apiextensions.CustomResource(
    `${name}-edge-gateway`,
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { name: objectName, namespace: s.namespace, labels: labels('edge') },
      spec: { selector: s.ingress.istio.ingressGatewaySelector, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: [trigger.host] }] },
    },
    { parent },
  );
  new k8s.apiextensions.CustomResource(
    `${name}-edge`,
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: objectName, namespace: s.namespace, labels: labels('edge') },
      spec: {
        hosts: [trigger.host],
        gateways: [objectName],
        http: [
          {
            match: trigger.paths.map((p) => ({ uri: p.type === 'Exact' ? { exact: p.path } : { prefix: p.path } })),
            route: [{ destination: { host: serviceDns(INGRESS_SERVICE, s.namespace), port: { number: PORTS.ingressService } } }],
          },
        ],
      },
    },
    { parent },
  );
}
