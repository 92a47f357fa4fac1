/**
 * File mode: manifests from files and folders, watched for changes. A file that
 * no longer parses is reported (file, reason) and its last good objects are kept.
 */
import * as fs from 'node:fs';
import { classifyObjects, emptyManifestObjects, ManifestError, manifestFiles, parseManifestFile, type ManifestObjects } from './manifests';

export interface FileSourceEvents {
  onChange(): void;
  onFileError(file: string, reason: string): void;
}

export class FileSource {
  private readonly lastGood = new Map<string, unknown[]>();
  private readonly watchers: fs.FSWatcher[] = [];

  constructor(
    private readonly paths: readonly string[],
    private readonly events: FileSourceEvents,
  ) {}

  /** Reads every file, keeping the last good objects of a file that fails. */
  read(): ManifestObjects {
    const files = new Set<string>();
    for (const p of this.paths) {
      try {
        for (const f of manifestFiles([p])) files.add(f);
      } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        this.events.onFileError(err.file, err.message);
      }
    }
    for (const file of [...this.lastGood.keys()]) if (!files.has(file)) this.lastGood.delete(file);
    for (const file of files) {
      try {
        this.lastGood.set(file, parseManifestFile(file));
      } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        this.events.onFileError(file, err.message);
      }
    }
    const objects = emptyManifestObjects();
    for (const [file, list] of this.lastGood) classifyObjects(file, list, objects);
    return objects;
  }

  watch(): void {
    for (const p of this.paths) {
      try {
        this.watchers.push(fs.watch(p, { recursive: fs.statSync(p).isDirectory() }, () => this.events.onChange()));
      } catch (err) {
        this.events.onFileError(p, `cannot watch: ${(err as Error).message}`);
      }
    }
  }

  close(): void {
    for (const w of this.watchers) w.close();
  }
}
