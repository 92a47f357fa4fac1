/**
 * Validation of Kubernetes objects against the upstream OpenAPI schemas
 * (`kubernetes-models`, `@kubernetes-models/istio`). Both packages are ES
 * modules only; a real dynamic import loads them from our CommonJS tests
 * (TypeScript would turn `import()` into `require`).
 */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, any>>;

function modelModule(apiVersion: string): string {
  if (apiVersion.endsWith('.istio.io/v1') || apiVersion.includes('.istio.io/')) return `@kubernetes-models/istio/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

/** Throws with the schema's message when `object` (with apiVersion and kind) is not valid. */
export async function validateObject(object: Record<string, any>): Promise<void> {
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new Error(`object without apiVersion/kind: ${JSON.stringify(object).slice(0, 200)}`);
  const module = await importModule(modelModule(apiVersion));
  const Model = module[kind];
  if (!Model) throw new Error(`no schema for ${apiVersion} ${kind}`);
  try {
    new Model(object).validate();
  } catch (e) {
    throw new Error(`${kind} ${object.metadata?.name}: ${(e as Error).message}`);
  }
}
