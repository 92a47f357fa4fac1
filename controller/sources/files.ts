/**
 * File mode: manifests from files and folders, watched for changes. A file that
 * no longer parses is reported (file, reason) and its last good objects are kept;
 * a file whose text did not change keeps its parsed objects (and their identity).
 */
import * as fs from 'node:fs';
import { classifyObjects, emptyManifestObjects, ManifestError, manifestFiles, parseManifestFile, type ManifestObjects } from './manifests';
import type { Source } from './source';

export class FileSource implements Source {
  private readonly lastGood = new Map<string, { text: string; objects: unknown[] }>();
  private readonly watchers: fs.FSWatcher[] = [];

  constructor(
    private readonly paths: readonly string[],
    private readonly onFileError: (file: string, reason: string) => void,
  ) {}

  read(): ManifestObjects {
    const files = new Set<string>();
    for (const p of this.paths) {
      try {
        for (const f of manifestFiles([p])) files.add(f);
      } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        this.onFileError(err.file, err.message);
      }
    }
    for (const file of [...this.lastGood.keys()]) if (!files.has(file)) this.lastGood.delete(file);
    for (const file of files) this.refresh(file);
    const objects = emptyManifestObjects();
    for (const [file, { objects: list }] of this.lastGood) classifyObjects(file, list, objects);
    return objects;
  }

  private refresh(file: string): void {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      this.onFileError(file, `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    if (this.lastGood.get(file)?.text === text) return;
    try {
      this.lastGood.set(file, { text, objects: parseManifestFile(file, text) });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      this.onFileError(file, err.message);
    }
  }

  async start(onChange: () => void): Promise<void> {
    for (const p of this.paths) {
      try {
        this.watchers.push(fs.watch(p, { recursive: fs.statSync(p).isDirectory() }, () => onChange()));
      } catch (err) {
        this.onFileError(p, `cannot watch: ${(err as Error).message}`);
      }
    }
  }

  async close(): Promise<void> {
    for (const w of this.watchers) w.close();
  }
}
