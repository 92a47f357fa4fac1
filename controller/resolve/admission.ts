/**
 * Admission of triggers to the route table: oldest first (ties by
 * `namespace/name`), a trigger claiming a (host, path, pathType) that an
 * admitted trigger holds is skipped whole, naming the winner.
 *
 * Kept incrementally: when triggers are edited in place (same position in the
 * order), only the triggers connected to their old and new claims through shared
 * claims are admitted again; everything else keeps its outcome.
 */
import type { Diagnostic, ValidPath, ValidTrigger } from '../api/validate';

export interface AdmissionResult {
  /** In admission order. */
  admitted: ValidTrigger[];
  /** Conflicts and duplicate definitions, in admission order. */
  diagnostics: Diagnostic[];
}

export function claimKey(host: string, p: ValidPath): string {
  return `${host} ${p.type} ${p.path}`;
}

export class Admission {
  private readonly claimKeys = new WeakMap<ValidTrigger, string[]>();
  /** null = admitted. */
  private outcome = new Map<ValidTrigger, Diagnostic | null>();
  /** Claim key → the triggers claiming it, in admission order. */
  private claimants = new Map<string, ValidTrigger[]>();
  /** Set when two triggers share a key: their relative order comes from content, so only a full pass is right. */
  hasDuplicateKeys = false;

  /** Admits every trigger (given in admission order) from scratch. */
  admitAll(sorted: readonly ValidTrigger[]): AdmissionResult {
    this.outcome = new Map();
    this.claimants = new Map();
    const seen = new Set<string>();
    this.hasDuplicateKeys = false;
    for (const trigger of sorted) {
      if (seen.has(trigger.key)) {
        this.hasDuplicateKeys = true;
        this.outcome.set(trigger, {
          trigger: trigger.key,
          reason: 'Invalid',
          message: `HTTPTrigger ${trigger.key} is defined more than once; only the oldest is used`,
        });
        continue;
      }
      seen.add(trigger.key);
      // The winner of a claim is its first admitted claimant: claimants are kept in admission order.
      const keys = this.keysOf(trigger);
      let winner: ValidTrigger | undefined;
      for (const k of keys) {
        const list = this.claimants.get(k);
        if (list) {
          winner ??= list.find((t) => this.outcome.get(t) === null);
          list.push(trigger);
        } else {
          this.claimants.set(k, [trigger]);
        }
      }
      this.decide(trigger, winner, (k) => this.claimants.get(k)!.some((t) => t !== trigger && this.outcome.get(t) === null));
    }
    return this.result(sorted);
  }

  /**
   * Re-admits after `replaced` triggers were swapped for edits at the same
   * positions of `sorted`; `position` gives a trigger's place in `sorted`.
   */
  update(sorted: readonly ValidTrigger[], replaced: readonly [ValidTrigger, ValidTrigger][], position: (t: ValidTrigger) => number): AdmissionResult {
    const dirtyKeys: string[] = [];
    for (const [before, now] of replaced) {
      for (const k of this.keysOf(before)) {
        const list = this.claimants.get(k)!.filter((t) => t !== before);
        if (list.length > 0) this.claimants.set(k, list);
        else this.claimants.delete(k);
        dirtyKeys.push(k);
      }
      for (const k of this.keysOf(now)) {
        const list = [...(this.claimants.get(k) ?? []), now].sort((a, b) => position(a) - position(b));
        this.claimants.set(k, list);
        dirtyKeys.push(k);
      }
      this.outcome.delete(before);
    }
    // Everything connected to the changed claims through shared claims.
    const component = new Set<ValidTrigger>();
    const visited = new Set<string>(dirtyKeys);
    for (let i = 0; i < dirtyKeys.length; i++) {
      for (const trigger of this.claimants.get(dirtyKeys[i]) ?? []) {
        if (component.has(trigger)) continue;
        component.add(trigger);
        for (const k of this.keysOf(trigger)) {
          if (!visited.has(k)) {
            visited.add(k);
            dirtyKeys.push(k);
          }
        }
      }
    }
    const claims = new Map<string, ValidTrigger>();
    for (const trigger of [...component].sort((a, b) => position(a) - position(b))) {
      const keys = this.keysOf(trigger);
      let winner: ValidTrigger | undefined;
      for (const k of keys) winner ??= claims.get(k);
      if (!winner) for (const k of keys) claims.set(k, trigger);
      this.decide(trigger, winner, (k) => claims.has(k));
    }
    return this.result(sorted);
  }

  private keysOf(trigger: ValidTrigger): string[] {
    let keys = this.claimKeys.get(trigger);
    if (!keys) this.claimKeys.set(trigger, (keys = trigger.paths.map((p) => claimKey(trigger.host, p))));
    return keys;
  }

  /** Admits the trigger, or records the conflict with `winner`, naming the paths `taken` says it holds. */
  private decide(trigger: ValidTrigger, winner: ValidTrigger | undefined, taken: (claimKey: string) => boolean): void {
    if (!winner) {
      this.outcome.set(trigger, null);
      return;
    }
    const keys = this.keysOf(trigger);
    const paths = trigger.paths.filter((_, i) => taken(keys[i]));
    this.outcome.set(trigger, {
      trigger: trigger.key,
      reason: 'Conflict',
      winner: winner.key,
      message: `host ${trigger.host} path ${paths.map((p) => `${p.path} (${p.type})`).join(', ')} is already routed to HTTPTrigger ${winner.key}, which is older; change this trigger's host or paths (the whole trigger is skipped)`,
    });
  }

  private result(sorted: readonly ValidTrigger[]): AdmissionResult {
    const admitted: ValidTrigger[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const trigger of sorted) {
      const outcome = this.outcome.get(trigger);
      if (outcome === null) admitted.push(trigger);
      else if (outcome) diagnostics.push(outcome);
    }
    return { admitted, diagnostics };
  }
}
