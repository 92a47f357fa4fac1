import * as pulumi from '@pulumi/pulumi';

/**
 * A component's arguments as its registration records them, with the values at `paths` made Pulumi
 * secrets: a component's inputs are kept in the state, in clear text unless secret, and a key or a
 * password read from stack config arrives as a plain string.
 */
export function withSecrets<T extends object>(args: T, ...paths: string[][]): T {
  let copy: Record<string, unknown> = args as Record<string, unknown>;
  for (const path of paths) copy = secretAt(copy, path);
  return copy as T;
}

function secretAt(node: Record<string, unknown>, [key, ...rest]: string[]): Record<string, unknown> {
  const value = node[key];
  if (value === undefined || value === null) return node;
  if (rest.length === 0) return { ...node, [key]: pulumi.secret(value) };
  return typeof value === 'object' ? { ...node, [key]: secretAt(value as Record<string, unknown>, rest) } : node;
}
