/**
 * What the workload components need to know about a ControlPlane beyond its
 * outputs: its checked settings and the resources to be ordered after. Kept
 * out of the class (every class property would become a schema output) in a
 * map keyed by the component object.
 */
import * as pulumi from '@pulumi/pulumi';
import { Settings } from './settings';

export interface ControlPlaneInternals {
  settings: Settings;
  /** The HTTPTrigger CRD and the HostPolicies: triggers are created after them, so none is judged without its policy. */
  triggersAfter: pulumi.Resource[];
  /** The runtime chart (runtime CRDs, NATS, certificates), when the control plane installs it. */
  runtime?: pulumi.Resource;
  /** The Traefik chart (its IngressClass), when Traefik is the edge. */
  traefik?: pulumi.Resource;
}

const internals = new WeakMap<object, ControlPlaneInternals>();

export function registerControlPlane(controlPlane: pulumi.ComponentResource, value: ControlPlaneInternals): void {
  internals.set(controlPlane, value);
}

/** The internals of a ControlPlane built in this program, or undefined for anything else. */
export function controlPlaneInternals(controlPlane: unknown): ControlPlaneInternals | undefined {
  return controlPlane !== null && typeof controlPlane === 'object' ? internals.get(controlPlane) : undefined;
}
