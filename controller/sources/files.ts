/**
 * File mode: manifests from files and folders, watched for changes.
 *
 * - A file that no longer reads or parses is reported (file, reason) once, and its
 *   last good objects are kept; so are those of a configured file or folder that
 *   disappears, until something valid replaces it.
 * - A file is taken only once it has not been written for a settle interval: a large
 *   file read while it is being written never withdraws the routes of the part not
 *   yet written. A file gone from a folder is dropped once it has been gone that long,
 *   so an editor's delete-and-rename save loses nothing.
 * - Folders are watched rather than files (a rename over a file or a ConfigMap's symlink
 *   swap leaves a file watch deaf); a folder deleted and created again is watched again at
 *   the next read or re-scan, and the periodic re-scan catches whatever was not reported.
 * - A file whose text did not change keeps its parsed objects (and their identity), and so
 *   does each document of an edited file that the edit did not touch: editing one trigger in
 *   a file of 20k re-parses one document, not the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { classifyObjects, emptyManifestObjects, ManifestError, manifestFiles, parseManifestFile, type DocumentCache, type ManifestObjects } from './manifests';
import type { Source } from './source';

export interface FileSourceOptions {
  /** How long a file must stay unchanged before it is taken. Default 100 ms. */
  settleMs?: number;
  /** The safety-net re-scan period (0 turns it off). Default 10 s. */
  rescanMs?: number;
}

interface Taken {
  text: string;
  objects: unknown[];
  /** Its documents by text, so an edit re-parses only the documents it touched. */
  documents: DocumentCache;
}

interface Watch {
  watcher: fs.FSWatcher;
  /** The folder's inode: another one at the same path means the folder was replaced. */
  ino: number;
}

export class FileSource implements Source {
  private readonly lastGood = new Map<string, Taken>();
  /** When a file that was taken was first found gone from its folder. */
  private readonly goneSince = new Map<string, number>();
  private readonly reported = new Map<string, string>();
  private readonly watches = new Map<string, Watch>();
  private readonly settleMs: number;
  private readonly rescanMs: number;
  private onChange: () => void = () => undefined;
  private recheck: NodeJS.Timeout | undefined;
  private rescan: NodeJS.Timeout | undefined;
  private scanSignature = '';
  /** The files reported during the current read. */
  private reportedNow = new Set<string>();
  private watching = false;

  constructor(
    private readonly paths: readonly string[],
    private readonly onFileError: (file: string, reason: string) => void,
    options: FileSourceOptions = {},
  ) {
    this.settleMs = options.settleMs ?? 100;
    this.rescanMs = options.rescanMs ?? 10_000;
  }

  read(): ManifestObjects {
    this.reportedNow = new Set();
    if (this.watching) this.armWatches(); // folders created (or replaced) since are watched at once
    const { files: seen, problems, signature } = this.list();
    // What this read saw is what the next re-scan compares with: a change already read is not news.
    this.scanSignature = signature;
    /** Configured paths that cannot be listed now: their files are kept as they were. */
    const unlisted: string[] = [];
    for (const { root, error } of problems) {
      this.report(error.file, error.message);
      unlisted.push(root);
    }
    const now = Date.now();
    for (const file of [...this.lastGood.keys()]) {
      if (seen.has(file) || unlisted.some((root) => isUnder(file, root))) {
        this.goneSince.delete(file);
        continue;
      }
      const since = this.goneSince.get(file) ?? now;
      if (now - since >= this.settleMs) {
        this.lastGood.delete(file);
        this.goneSince.delete(file);
      } else {
        this.goneSince.set(file, since);
        this.scheduleRecheck(since + this.settleMs - now);
      }
    }
    for (const file of seen) this.refresh(file, now);
    // A problem not seen again is over: should it come back, it is reported again.
    for (const file of [...this.reported.keys()]) if (!this.reportedNow.has(file)) this.reported.delete(file);
    const objects = emptyManifestObjects();
    for (const [file, { objects: list }] of this.lastGood) classifyObjects(file, list, objects);
    return objects;
  }

  private refresh(file: string, now: number): void {
    let text: string;
    let modifiedAt: number;
    try {
      text = fs.readFileSync(file, 'utf8');
      modifiedAt = fs.statSync(file).mtimeMs;
    } catch (err) {
      this.report(file, `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    if (this.lastGood.get(file)?.text === text) return;
    const quietFor = now - modifiedAt;
    if (quietFor < this.settleMs) {
      this.scheduleRecheck(this.settleMs - quietFor);
      return;
    }
    try {
      // The cache is replaced only once every document parsed: a file that fails keeps its last good ones.
      const documents: DocumentCache = this.lastGood.get(file)?.documents ?? new Map();
      this.lastGood.set(file, { text, objects: parseManifestFile(file, text, documents), documents });
    } catch (err) {
      if (!(err instanceof ManifestError)) throw err;
      this.report(file, err.message);
    }
  }

  /** Each problem once, until a read no longer sees it. */
  private report(file: string, reason: string): void {
    this.reportedNow.add(file);
    if (this.reported.get(file) === reason) return;
    this.reported.set(file, reason);
    this.onFileError(file, reason);
  }

  /** A change notification once a file being written or removed has settled. */
  private scheduleRecheck(inMs: number): void {
    if (this.recheck) return;
    this.recheck = setTimeout(() => {
      this.recheck = undefined;
      this.onChange();
    }, Math.max(1, Math.ceil(inMs)));
  }

  async start(onChange: () => void): Promise<void> {
    this.onChange = onChange;
    this.watching = true;
    this.armWatches();
    this.scanSignature = this.list().signature;
    if (this.rescanMs > 0) {
      this.rescan = setInterval(() => this.rescanNow(), this.rescanMs);
      this.rescan.unref();
    }
  }

  /** Re-arms watches on replaced or new folders, and reports a change the watches missed (any, with `force`). */
  rescanNow(force = false): void {
    this.armWatches();
    const { signature } = this.list();
    if (force || signature !== this.scanSignature) {
      this.scanSignature = signature;
      this.onChange();
    }
  }

  /**
   * One plain (non-recursive) watch per folder: each configured folder and the folders below it,
   * and the folder holding each configured file. A folder's own watch reports files created,
   * written, renamed over or swapped in it, which a watch on a file (or Node's recursive watch,
   * which follows files) stops reporting after a rename.
   */
  private armWatches(): void {
    const wanted = new Map<string, number>();
    for (const root of this.paths) {
      try {
        const stat = fs.statSync(root);
        if (!stat.isDirectory()) {
          const folder = path.dirname(root);
          wanted.set(folder, fs.statSync(folder).ino);
        } else {
          for (const folder of folders(root)) wanted.set(folder, fs.statSync(folder).ino);
        }
      } catch {
        // Missing: read() reports it, and a later re-scan arms it once it is back.
      }
    }
    for (const [folder, watch] of this.watches) {
      if (wanted.get(folder) !== watch.ino) {
        watch.watcher.close();
        this.watches.delete(folder);
      }
    }
    for (const [folder, ino] of wanted) {
      if (this.watches.has(folder)) continue;
      try {
        const watcher = fs.watch(folder, () => this.onChange());
        watcher.on('error', () => {
          // The folder went away: forget the watch, so that a re-scan arms one on its successor.
          watcher.close();
          if (this.watches.get(folder)?.watcher === watcher) this.watches.delete(folder);
          this.onChange();
        });
        this.watches.set(folder, { watcher, ino });
      } catch (err) {
        this.report(folder, `cannot watch: ${(err as Error).message}`);
      }
    }
  }

  /**
   * The manifest files under the configured paths, the paths that cannot be listed, and what a
   * re-scan compares: every file's path, size and modification time.
   */
  private list(): { files: Set<string>; problems: { root: string; error: ManifestError }[]; signature: string } {
    const files = new Set<string>();
    const problems: { root: string; error: ManifestError }[] = [];
    const parts: string[] = [];
    for (const root of this.paths) {
      try {
        for (const file of manifestFiles([root])) {
          files.add(file);
          const stat = fs.statSync(file, { throwIfNoEntry: false });
          parts.push(`${file}:${stat?.size}:${stat?.mtimeMs}`);
        }
      } catch (err) {
        if (!(err instanceof ManifestError)) throw err;
        // The configured path keeps its files, whichever path under it failed.
        problems.push({ root, error: err });
        parts.push(`${root}:missing`);
      }
    }
    return { files, problems, signature: parts.join('\n') };
  }

  async close(): Promise<void> {
    clearTimeout(this.recheck);
    clearInterval(this.rescan);
    this.watching = false;
    for (const { watcher } of this.watches.values()) watcher.close();
    this.watches.clear();
  }
}

/** A folder and the folders below it that manifestFiles reads: hidden ones skipped, symbolic links followed. */
function folders(root: string): string[] {
  const found = [root];
  for (const entry of fs.readdirSync(root)) {
    const child = path.join(root, entry);
    if (!entry.startsWith('.') && fs.statSync(child, { throwIfNoEntry: false })?.isDirectory()) found.push(...folders(child));
  }
  return found;
}

function isUnder(file: string, root: string): boolean {
  const [f, r] = [path.resolve(file), path.resolve(root)];
  return f === r || f.startsWith(`${r}${path.sep}`);
}
