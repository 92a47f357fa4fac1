/** The package's `wasm-control` command (package.json `bin`): each command through it, as an installed package runs it. */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../controller/package-root';

const ROOT = packageRoot();
const BIN = path.join(ROOT, (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['wasm-control']);
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT });

describe('the wasm-control command', () => {
  it('prints its commands, failing without one', () => {
    const bare = run();
    assert.equal(bare.status, 2);
    assert.match(bare.stdout, /controller .*\n.*translate <path>.*\n.*envoy-bootstrap/);
    assert.equal(run('--help').status, 0);
  });

  it('runs translate, controller and envoy-bootstrap with their own flags', () => {
    const translated = run('translate', '--unlisted-hosts', 'deny', 'examples');
    assert.equal(translated.status, 0, translated.stderr);
    assert.ok((JSON.parse(translated.stdout).diagnostics as { reason: string }[]).some((d) => d.reason === 'HostNotAllowed'), 'the flag reached translate');
    const help = run('controller', '--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--xds-tls-client-ca <file>/);
    const bootstrap = run('envoy-bootstrap', '--xds-address', 'ctl.example:18000', '--tls-cert', '/c.crt', '--tls-key', '/c.key', '--tls-ca', '/ca.crt');
    assert.equal(bootstrap.status, 0, bootstrap.stderr);
    assert.equal(JSON.parse(bootstrap.stdout).static_resources.clusters[0].transport_socket.typed_config.sni, 'ctl.example');
  });

  it('names an unknown command', () => {
    const unknown = run('serve');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^wasm-control: unknown command "serve"\nusage: wasm-control <command>/);
  });
});
