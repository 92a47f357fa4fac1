/** The restricted pod security profile every pod this component builds runs under. */
import * as k8s from '@pulumi/kubernetes';

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

