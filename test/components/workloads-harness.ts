/**
 * Helpers for the workload component tests: building a program that is
 * expected to fail, and seeing the ordering (`dependsOn`) of children, which
 * the mocks do not report.
 */
import * as assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { build } from './harness';

/**
 * Runs `construct` under mocks and returns the error it threw; the
 * registrations it started still finish before the next test.
 */
export async function failure(construct: () => void): Promise<pulumi.ResourceError> {
  let error: unknown;
  await build(() => {
    try {
      construct();
    } catch (e) {
      error = e;
    }
  });
  assert.ok(error instanceof pulumi.ResourceError, `expected a ResourceError, got ${String(error)}`);
  return error;
}

/** The options each child (by Pulumi name) was registered with, recorded through the SDK's transformations. */
export class ChildOptions {
  private readonly byChild = new Map<string, pulumi.ResourceOptions>();

  /** Component options that record the options of every descendant. */
  readonly opts: pulumi.ComponentResourceOptions = {
    // The SDK-side transformations run under mocks and children inherit them (the engine-side `transforms` do not run).
    transformations: [
      (args) => {
        this.byChild.set(args.name, args.opts);
        return undefined;
      },
    ],
  };

  /** The options of the child named `name`; fails when no such child was registered. */
  of(name: string): pulumi.ResourceOptions {
    const opts = this.byChild.get(name);
    assert.ok(opts, `no child named ${name} (children: ${[...this.byChild.keys()].join(', ')})`);
    return opts;
  }

  /** What the child named `name` depends on. */
  dependsOn(name: string): pulumi.Resource[] {
    return ((this.of(name).dependsOn as pulumi.Resource[] | undefined) ?? []).slice();
  }
}
