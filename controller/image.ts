/**
 * `npm run build:image` (after `npm run build`): in dist/image/, exactly the files the controller
 * image's final stage copies. The controller bundled with its dependencies into one file (esbuild;
 * the same path as in a checkout, so the entry point does not change), the .proto files it
 * loads, the CRDs it validates against, and a package.json naming the package (how
 * the controller finds its data files). No node_modules: no Pulumi or AWS SDK, no TypeScript.
 * The inputs esbuild bundled are listed in dist/image-inputs.json (test/image.test.ts checks them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { CRD_PATHS } from './api/schema';
import { envoyRoot, IMAGE_PROTOS_DIR, protoIncludeDirs } from './envoy/protos';
import { packageRoot } from './package-root';

export const IMAGE_DIR = 'dist/image';
export const IMAGE_INPUTS = 'dist/image-inputs.json';

async function main(): Promise<void> {
  const root = packageRoot();
  const out = path.join(root, IMAGE_DIR);
  fs.rmSync(out, { recursive: true, force: true });
  const result = await build({
    entryPoints: [path.join(root, 'dist/controller/main.js')],
    outfile: path.join(out, 'dist/controller/main.js'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    // Smaller without renaming anything: stack traces keep their function names.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    // Only reached outside the image, where the .proto files come from these packages.
    external: ['@grpc/grpc-js-xds/package.json', 'protobufjs/package.json'],
    logLevel: 'warning',
  });
  fs.writeFileSync(path.join(root, IMAGE_INPUTS), `${JSON.stringify(Object.keys(result.metafile.inputs).sort(), null, 2)}\n`);

  // The .proto files the controller loads, each under the include folder it was found in.
  const includeDirs = protoIncludeDirs();
  // (protobufjs has the google/protobuf well-known types built in: those are not files.)
  for (const file of envoyRoot().files.filter((f) => path.isAbsolute(f))) {
    const dir = includeDirs.find((d) => file.startsWith(`${d}${path.sep}`));
    if (!dir) throw new Error(`${file} is outside the proto include folders`);
    const target = path.join(out, IMAGE_PROTOS_DIR, path.relative(dir, file));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
  }
  // The controller validates objects with the CRDs' schemas, read at run time.
  for (const crd of CRD_PATHS) {
    fs.mkdirSync(path.join(out, path.dirname(crd)), { recursive: true });
    fs.copyFileSync(path.join(root, crd), path.join(out, crd));
  }
  const { name, version, license } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(out, 'package.json'), `${JSON.stringify({ name, version, license, private: true }, null, 2)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`build:image: ${err.message}\n`);
  process.exit(1);
});
