// Starts and stops `ordo serve` processes for the console's tests.
//
//   const node = await startOrdo('/path/to/ordo', ['--admin-token', 'T']);
//   node.url   // 'http://127.0.0.1:PORT'
//   node.log() // what it printed so far (stdout and stderr)
//   await node.stop();
//
// `--data` (a fresh temporary directory, removed by stop()) and `--http
// 127.0.0.1:0` are added unless given; the URL is read from the line
// `ordo listening on http://HOST:PORT`.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LISTENING = /ordo listening on (http:\/\/\S+)/;

export async function startOrdo(bin, args = [], { timeoutMs = 30000 } = {}) {
  const argv = ['serve', ...args];
  let dataDir = null;
  if (!args.includes('--data')) {
    dataDir = await mkdtemp(join(tmpdir(), 'ordo-test-'));
    argv.push('--data', dataDir);
  }
  if (!args.includes('--http')) {
    argv.push('--http', '127.0.0.1:0');
  }
  const proc = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let exited = null;
  const exit = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    proc.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`ordo did not report listening within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk) => {
      output += chunk.toString();
      const m = LISTENING.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    exit.then((e) => {
      clearTimeout(timer);
      reject(new Error(`ordo exited before listening (${e.error ?? e.signal ?? e.code}):\n${output}`));
    });
  }).catch(async (err) => {
    proc.kill('SIGKILL');
    await exit;
    if (dataDir) {
      await rm(dataDir, { recursive: true, force: true });
    }
    throw err;
  });
  return {
    url,
    proc,
    dataDir,
    log: () => output,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exit;
        clearTimeout(timer);
      }
      if (dataDir) {
        await rm(dataDir, { recursive: true, force: true });
      }
      return exited;
    },
  };
}

/// A TCP port that was free a moment ago (for --cluster-port and --peers).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
