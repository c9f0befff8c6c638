// Helpers for tests that drive a real `ordo serve`: start and stop the node
// (through ordo-process.mjs) and a sandbox payment provider, call the HTTP
// API, sign payment callbacks, and poll the API until a server-side
// condition holds.

import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { freePort, startOrdo as spawnOrdo } from './ordo-process.mjs';

/**
 * Starts `ordo serve` on a free loopback port in a fresh data directory
 * (ordo-process.mjs): {url, token, secret, log(), stop()}.
 */
export async function startOrdo(binary, { token, secret, args = [] }) {
  const node = await spawnOrdo(binary, ['--admin-token', token, '--payment-secret', secret, ...args]);
  return { ...node, token, secret };
}

/**
 * Starts `ordo sandbox-provider` on `port` (0: a free one) and resolves
 * once it listens: {url, port, log(), kill(), stop()}; kill() is an abrupt
 * SIGKILL, as a provider that dies; stop() a SIGTERM.
 */
export function startProvider(binary, port = 0, timeoutMs = 30000) {
  const proc = spawn(binary, ['sandbox-provider', '--host', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`the sandbox provider did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const exited = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the sandbox provider exited (${code ?? signal}) before it listened:\n${output}`));
    };
    const onData = (chunk) => {
      output += chunk;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        proc.off('exit', exited);
        resolve({
          url: m[1],
          port: Number(new URL(m[1]).port),
          log: () => output,
          kill: () => stopProcess(proc, 'SIGKILL'),
          stop: () => stopProcess(proc),
        });
      }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.on('exit', exited);
    proc.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** SIGTERM, then SIGKILL after 10 s; resolves when `proc` has exited. */
function stopProcess(proc, signal = 'SIGTERM') {
  if (proc.exitCode !== null || proc.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const force = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    proc.kill(signal);
  });
}

/**
 * Calls the API: {status, headers, json, text}. `token` adds the bearer
 * token; `headers` are extra request headers; `raw` sends the body as is.
 */
export async function call(base, method, path, { body, raw, token, headers = {} } = {}) {
  const h = { ...headers };
  if (token) {
    h.Authorization = `Bearer ${token}`;
  }
  const payload = raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) {
    h['Content-Type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Like call() but throws unless the status is one of `ok` (default 2xx); resolves to the JSON. */
export async function must(base, method, path, opts = {}) {
  const r = await call(base, method, path, opts);
  const ok = opts.ok ?? [200, 201];
  if (!ok.includes(r.status)) {
    throw new Error(`${method} ${path} -> ${r.status} ${r.text}`);
  }
  return r.json;
}

/** X-Ordo-Signature for a callback body: sha256=HMAC-SHA256(body, secret) in hex. */
export function signature(body, secret) {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Posts a signed payment callback; resolves to its JSON ({result}). */
export function payCallback(node, fields) {
  const raw = JSON.stringify(fields);
  return must(node.url, 'POST', '/v1/payments/callback', {
    raw,
    headers: { 'X-Ordo-Signature': signature(raw, node.secret) },
  });
}

/**
 * Polls `probe` (async; a truthy answer ends the wait and is returned)
 * every `everyMs` until `timeoutMs`, then throws naming `what`.
 */
export async function until(what, probe, { timeoutMs = 20000, everyMs = 100 } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await probe();
      if (v) {
        return v;
      }
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Starts the nodes `ids` of one cluster on loopback, each an `ordo serve`
 * (ordo-process.mjs: a fresh data directory, HTTP on a free port) with
 * `--node-id ID --cluster-port P --peers ID=127.0.0.1:P,... --partitions N`,
 * the same token and secret, and `args`. Resolves once every node listens
 * and node `ids[0]` reports every peer reachable:
 * {nodes: {ID: {id, url, token, secret, clusterPort, proc, log(), kill(), stop()}}, stop()}.
 * A node's kill() is an abrupt SIGKILL (its data directory stays until
 * stop()); the cluster's stop() stops every node still running and removes
 * their data. If any node fails to start, the others are stopped and the
 * error names it with its output.
 */
export async function startCluster(binary, { token, secret, ids = ['a', 'b', 'c'], partitions = 16, args = [], timeoutMs = 30000 }) {
  const ports = [];
  while (ports.length < ids.length) {
    const p = await freePort();
    if (!ports.includes(p)) {
      ports.push(p);
    }
  }
  const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[i]}`).join(',');
  const started = await Promise.allSettled(
    ids.map((id, i) =>
      startOrdo(binary, {
        token,
        secret,
        args: ['--node-id', id, '--cluster-port', String(ports[i]), '--peers', peers, '--partitions', String(partitions), ...args],
      }).catch((e) => {
        throw new Error(`node ${id}: ${e.message}`);
      }),
    ),
  );
  const nodes = {};
  started.forEach((s, i) => {
    if (s.status === 'fulfilled') {
      const node = s.value;
      nodes[ids[i]] = {
        ...node,
        id: ids[i],
        clusterPort: ports[i],
        kill: () => {
          if (node.proc.exitCode === null && node.proc.signalCode === null) {
            const gone = new Promise((r) => node.proc.once('exit', r));
            node.proc.kill('SIGKILL');
            return gone;
          }
          return Promise.resolve();
        },
      };
    }
  });
  const stop = async () => {
    await Promise.all(Object.values(nodes).map((n) => n.stop()));
  };
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  try {
    await until(
      `every peer of ${ids[0]} to be reachable`,
      async () => {
        const c = await must(nodes[ids[0]].url, 'GET', '/v1/admin/cluster', { token });
        return c.peers.length === ids.length - 1 && c.peers.every((p) => p.reachable);
      },
      { timeoutMs },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return { nodes, stop };
}
