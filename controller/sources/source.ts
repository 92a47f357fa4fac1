/**
 * Where the controller's objects come from (files now; the Kubernetes API later).
 * Every source feeds the same pipeline.
 */
import type { ManifestObjects } from './manifests';

export type SourceObjects = ManifestObjects;

export interface Source {
  /** Starts watching; `onChange` is called, possibly in bursts, whenever `read()` would return something new. */
  start(onChange: () => void): Promise<void>;
  /**
   * The current objects. An unchanged object keeps its identity from one read to
   * the next: the pipeline reuses its work by identity.
   */
  read(): SourceObjects;
  close(): Promise<void>;
}
