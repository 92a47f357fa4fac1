/** Helpers for the upstream Helm charts the component installs. */
import * as pulumi from '@pulumi/pulumi';

type Values = Record<string, unknown>;

function isPlainObject(v: unknown): v is Values {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * `overrides` merged over `base` the way Helm merges values files: objects key
 * by key, anything else (lists, scalars, Outputs) replaced whole.
 */
export function mergeValues(base: Values, overrides: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    out[key] = isPlainObject(out[key]) && isPlainObject(value) ? mergeValues(out[key] as Values, value) : value;
  }
  return out;
}

/**
 * The runtime chart generates its NATS CA and certificates with Helm's genCA
 * on every render, and helm.v4.Chart renders on every preview: without this,
 * each `pulumi up` would replace all certificates under running pods. The
 * Secrets keep the data they were created with.
 */
export const keepGeneratedSecrets: pulumi.ResourceTransform = (args) => {
  if (args.type !== 'kubernetes:core/v1:Secret') return undefined;
  return { props: args.props, opts: pulumi.mergeOptions(args.opts, { ignoreChanges: ['data', 'stringData'] }) };
};
