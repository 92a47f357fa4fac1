/** How the component's pods run: the restricted pod security profile, and how many may be disrupted at once. */
import * as k8s from '@pulumi/kubernetes';
import { labels, selector } from './names';

/** Non-root with the runtime's default seccomp profile; `uid` is the image's unprivileged user. */
export function hardenedPod(uid: number): Pick<k8s.types.input.core.v1.PodSpec, 'securityContext'> {
  return {
    securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
  };
}

/** No privilege escalation, no capabilities, read-only root file system (writable paths are emptyDirs). */
export function hardenedContainer(): Pick<k8s.types.input.core.v1.Container, 'securityContext'> {
  return {
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}


/** At most one pod of `component` evicted at a time, so a node drain never takes them all away. */
export function podDisruptionBudget(namespace: string, component: string): k8s.policy.v1.PodDisruptionBudgetArgs {
  return {
    metadata: { name: component, namespace, labels: labels(component) },
    spec: { maxUnavailable: 1, selector: { matchLabels: selector(component) } },
  };
}
