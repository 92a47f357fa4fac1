/**
 * The JSON log lines (pino) a controller process writes to stdout, kept as they
 * come, with waits on them: `next` for a line still to come, `first` for one
 * seen already or still to come. A wait rejects if the output ends first.
 */
import * as readline from 'node:readline';
import type { Readable } from 'node:stream';

export type LogLine = Record<string, unknown>;

export class ProcessLogs {
  readonly lines: LogLine[] = [];
  private ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(stdout: Readable) {
    const input = readline.createInterface({ input: stdout });
    input.on('line', (text) => {
      this.lines.push(JSON.parse(text) as LogLine);
      for (const wake of [...this.waiters]) wake();
    });
    input.on('close', () => {
      this.ended = true;
      for (const wake of [...this.waiters]) wake();
    });
  }

  /** The first line from now on that satisfies `match`. */
  next(match: (line: LogLine) => boolean): Promise<LogLine> {
    return this.wait(match, this.lines.length);
  }

  /** The first line, already written or still to come, that satisfies `match`. */
  first(match: (line: LogLine) => boolean): Promise<LogLine> {
    return this.wait(match, 0);
  }

  private wait(match: (line: LogLine) => boolean, from: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      let seen = from;
      const check = () => {
        for (; seen < this.lines.length; seen++) {
          if (match(this.lines[seen])) {
            this.waiters.delete(check);
            return resolve(this.lines[seen]);
          }
        }
        if (this.ended) {
          this.waiters.delete(check);
          reject(new Error(`the process's output ended before the expected log line (last: ${JSON.stringify(this.lines.at(-1))})`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }
}
