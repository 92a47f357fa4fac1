/** A controller source of triggers the test sets: it counts reads and tells the controller of each change. */
import { emptyManifestObjects } from '../../controller/sources/manifests';
import type { Source, SourceObjects } from '../../controller/sources/source';

export class TestSource implements Source {
  reads = 0;
  private notify: () => void = () => undefined;

  constructor(public triggers: unknown[] = []) {}

  async start(onChange: () => void): Promise<void> {
    this.notify = onChange;
  }

  read(): SourceObjects {
    this.reads++;
    return { ...emptyManifestObjects(), triggers: this.triggers };
  }

  /** Replaces the triggers and reports the change. */
  set(triggers: unknown[]): void {
    this.triggers = triggers;
    this.change();
  }

  /** Reports a change (the triggers as they are). */
  change(): void {
    this.notify();
  }

  async close(): Promise<void> {}
}
