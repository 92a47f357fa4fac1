/**
 * Admission of triggers to the route table: oldest first (ties by
 * `namespace/name`), a trigger claiming a (host, path, pathType) that an
 * admitted trigger holds is skipped whole, naming the winner.
 *
 * Kept incrementally: when triggers are edited in place (same position in the
 * order), only the hosts they left or joined are admitted again (claims never
 * cross hosts); everything else keeps its outcome.
 */
import type { Diagnostic, ValidPath, ValidTrigger } from '../api/validate';

export interface AdmissionResult {
  /** In admission order. */
  admitted: ValidTrigger[];
  /** Conflicts and duplicate definitions, in admission order. */
  diagnostics: Diagnostic[];
}

export function claimKey(host: string, p: ValidPath): string {
  return `${host} ${pathKey(p)}`;
}

export class Admission {
  /** Triggers by host, in admission order. Claims never cross hosts, so each host is admitted on its own. */
  private byHost = new Map<string, ValidTrigger[]>();
  /** Why each trigger that is not admitted is not; a trigger of `sorted` without an entry is admitted. */
  private rejected = new Map<ValidTrigger, Diagnostic>();
  /** The admitted triggers of hosts with more than one trigger (a host's only trigger is admitted). */
  private admittedOfShared = new Map<string, readonly ValidTrigger[]>();
  /** Set when two triggers share a key: their relative order comes from content, so only a full pass is right. */
  hasDuplicateKeys = false;

  /** Visits each host's admitted triggers, in admission order (an unchanged host keeps its list object). */
  forEachAdmittedHost(visit: (admitted: readonly ValidTrigger[], host: string) => void): void {
    // The oldest trigger of a host is always admitted: every host has some.
    this.byHost.forEach((triggers, host) => visit(triggers.length === 1 ? triggers : this.admittedOfShared.get(host)!, host));
  }

  /** Admits every trigger (given in admission order) from scratch. */
  admitAll(sorted: readonly ValidTrigger[]): AdmissionResult {
    this.rejected = new Map();
    this.byHost = new Map();
    this.admittedOfShared = new Map();
    const seen = new Set<string>();
    this.hasDuplicateKeys = false;
    for (const trigger of sorted) {
      if (seen.has(trigger.key)) {
        this.hasDuplicateKeys = true;
        this.rejected.set(trigger, {
          trigger: trigger.key,
          reason: 'Invalid',
          message: `HTTPTrigger ${trigger.key} is defined more than once; only the oldest is used`,
        });
        continue;
      }
      seen.add(trigger.key);
      const list = this.byHost.get(trigger.host);
      if (list) list.push(trigger);
      else this.byHost.set(trigger.host, [trigger]);
    }
    for (const list of this.byHost.values()) this.admitHost(list);
    return this.result(sorted);
  }

  /**
   * Re-admits after `replaced` triggers were swapped for edits at the same
   * positions of `sorted`; `position` gives a trigger's place in `sorted`. Only
   * the hosts the edits left or joined are admitted again.
   */
  update(sorted: readonly ValidTrigger[], replaced: readonly [ValidTrigger, ValidTrigger][], position: (t: ValidTrigger) => number): AdmissionResult {
    const hosts = new Set<string>();
    for (const [before, now] of replaced) {
      const left = this.byHost.get(before.host)!.filter((t) => t !== before);
      if (left.length > 0) this.byHost.set(before.host, left);
      else {
        this.byHost.delete(before.host);
        this.admittedOfShared.delete(before.host);
      }
      this.byHost.set(now.host, [...(this.byHost.get(now.host) ?? []), now].sort((a, b) => position(a) - position(b)));
      this.rejected.delete(before);
      hosts.add(before.host).add(now.host);
    }
    for (const host of hosts) {
      const list = this.byHost.get(host);
      if (list) this.admitHost(list);
    }
    return this.result(sorted);
  }

  /** Admits one host's triggers oldest first: one that claims a (path, pathType) an admitted one holds is skipped whole. */
  private admitHost(triggers: readonly ValidTrigger[]): void {
    if (triggers.length === 1) {
      this.rejected.delete(triggers[0]); // a trigger's own paths are unique
      this.admittedOfShared.delete(triggers[0].host);
      return;
    }
    const admitted: ValidTrigger[] = [];
    const claims = new Map<string, ValidTrigger>();
    for (const trigger of triggers) {
      const keys = trigger.paths.map(pathKey);
      let winner: ValidTrigger | undefined;
      for (const k of keys) winner ??= claims.get(k);
      if (!winner) {
        for (const k of keys) claims.set(k, trigger);
        this.rejected.delete(trigger);
        admitted.push(trigger);
        continue;
      }
      const taken = trigger.paths.filter((_, i) => claims.has(keys[i]));
      this.rejected.set(trigger, {
        trigger: trigger.key,
        reason: 'Conflict',
        winner: winner.key,
        message: `host ${trigger.host} path ${taken.map((p) => `${p.path} (${p.type})`).join(', ')} is already routed to HTTPTrigger ${winner.key}, which is older; change this trigger's host or paths (the whole trigger is skipped)`,
      });
    }
    this.admittedOfShared.set(triggers[0].host, admitted);
  }

  private result(sorted: readonly ValidTrigger[]): AdmissionResult {
    const admitted: ValidTrigger[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const trigger of sorted) {
      const rejection = this.rejected.get(trigger);
      if (rejection) diagnostics.push(rejection);
      else admitted.push(trigger);
    }
    return { admitted, diagnostics };
  }
}

function pathKey(p: ValidPath): string {
  return `${p.type} ${p.path}`;
}
