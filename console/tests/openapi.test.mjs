// docs/openapi.json checked against a running ordo.
//
//   node console/tests/openapi.test.mjs [--ordo PATH]
//
// PATH defaults to build/ordo under the repository root. The test starts
// three nodes on temporary data directories:
//
//   main     a single node with fixtures (SKUs, coupons, orders pending,
//            paid, cancelled, completed, refunded, split, an affiliate, a
//            captcha'd user, a rate-limited user); most cases run here;
//   cluster  node "a" of a two-node cluster whose peer "b" never starts:
//            every request for b's partitions answers 503;
//   letters  a node whose payment provider is unreachable and that gives up
//            on external calls after 1 s, so it holds dead letters to retry
//            and discard (and, with relay.deliver=error, letters to actors
//            that expire after 30 s: --dedupe-retention 1m).
//
// It asserts that
//   1. every answer (fixtures' included) has a status documented for its
//      operation, a documented Content-Type, a body valid against the
//      documented schema, and the documented required headers (Allow,
//      Location, Retry-After), valid against their schemas;
//   2. every operation, and every (operation, status) pair the document
//      lists, was answered at least once, except the pairs in UNREACHABLE;
//   3. GET /v1/openapi.json serves docs/openapi.json;
//   4. undocumented paths answer 404 not_found, and every documented path
//      answers a method it does not document with 405 and an Allow header
//      that lists exactly the documented methods.
//
// 500 internal is reached with the fault point gateway.before_reply=error;
// 503 unavailable with store.disk_low=error (writes, /readyz) and with the
// unreachable cluster peer (everything placed in a partition).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { freePort, startOrdo } from './lib/ordo-process.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

function option(name) {
  const i = process.argv.indexOf(name);
  if (i === -1) {
    return undefined;
  }
  if (!process.argv[i + 1]) {
    throw new Error(`${name} needs a value`);
  }
  return process.argv[i + 1];
}

const ORDO = option('--ordo') ? resolve(process.cwd(), option('--ordo')) : join(repo, 'build/ordo');
const TOKEN = 'openapi-test-token';
const SECRET = 'openapi-test-secret';
const DOC_PATH = join(repo, 'docs/openapi.json');
const doc = JSON.parse(readFileSync(DOC_PATH, 'utf8'));

// (operation, status) pairs the document lists that this test cannot
// provoke, each with the reason. Keep it small and honest.
// 500 comes from gateway.before_reply=error, 503 from store.disk_low=error
// and from an unreachable cluster peer, 409 of a dead-letter retry from a
// letter that expired on its way to an actor.
const UNREACHABLE = new Map([
  ['clearFaults 500', 'the one way to a 500 from outside is the fault point gateway.before_reply, and clearing every fault disarms it before the reply is written'],
]);

// --------------------------------------------------------------- the document

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const operations = new Map(); // operationId -> {id, method, path, op}
for (const [path, item] of Object.entries(doc.paths)) {
  for (const method of METHODS) {
    const op = item[method];
    if (op) {
      assert.ok(op.operationId, `${method.toUpperCase()} ${path} has no operationId`);
      assert.ok(!operations.has(op.operationId), `operationId ${op.operationId} is used twice`);
      operations.set(op.operationId, { id: op.operationId, method, path, op });
    }
  }
}

const isAdmin = (info) => (info.op.security ?? doc.security ?? []).some((s) => 'bearerAuth' in s);

const pointerOf = (segments) =>
  '#/' + segments.map((s) => encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

function at(segments) {
  let v = doc;
  for (const s of segments) {
    v = v?.[s];
  }
  return v;
}

/// Follows $ref: the object and the JSON pointer segments where it lives.
function deref(value, segments) {
  let v = value;
  let where = segments;
  for (let hops = 0; v && v.$ref; ++hops) {
    assert.ok(hops < 10, `$ref loop at ${pointerOf(where)}`);
    assert.ok(v.$ref.startsWith('#/'), `external $ref ${v.$ref}`);
    where = v.$ref.slice(2).split('/').map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));
    v = at(where);
    assert.ok(v !== undefined, `dangling $ref ${pointerOf(where)}`);
  }
  return { value: v, segments: where };
}

const BASE = 'https://ordo.invalid/openapi.json';
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: BASE });
const compiled = new Map();
function validator(segments) {
  const key = pointerOf(segments);
  if (!compiled.has(key)) {
    compiled.set(key, ajv.compile({ $ref: BASE + key }));
  }
  return compiled.get(key);
}

const mediaType = (headers) => (headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();

/// What is wrong with answer `res` to operation `info`, as text lines.
function problemsOf(info, res) {
  const status = String(res.status);
  const here = ['paths', info.path, info.method, 'responses', status];
  const documented = info.op.responses?.[status];
  if (!documented) {
    return [`status ${status} is not documented for ${info.id} (documented: ${Object.keys(info.op.responses).join(', ')})`];
  }
  const { value: response, segments: responseAt } = deref(documented, here);
  const problems = [];
  for (const [name, h] of Object.entries(response.headers ?? {})) {
    const { value: header, segments: headerAt } = deref(h, [...responseAt, 'headers', name]);
    const value = res.headers.get(name);
    if (value === null) {
      if (header.required) {
        problems.push(`header ${name} is required but missing`);
      }
      continue;
    }
    if (header.schema) {
      const type = deref(header.schema, [...headerAt, 'schema']).value.type;
      const typed = (type === 'integer' || type === 'number') && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
      const validate = validator([...headerAt, 'schema']);
      if (!validate(typed)) {
        problems.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(validate.errors)}`);
      }
    }
  }
  if (response.content) {
    const type = mediaType(res.headers);
    if (!(type in response.content)) {
      problems.push(`Content-Type ${JSON.stringify(res.headers.get('content-type'))} is not documented (${Object.keys(response.content).join(', ')})`);
    } else if (type === 'application/json' || type.endsWith('+json')) {
      if (res.json === undefined) {
        problems.push(`body is not JSON: ${res.text.slice(0, 200)}`);
      } else if (response.content[type].schema) {
        const validate = validator([...responseAt, 'content', type, 'schema']);
        if (!validate(res.json)) {
          for (const e of validate.errors) {
            problems.push(`body${e.instancePath} ${e.message} ${JSON.stringify(e.params)} (schema ${e.schemaPath})`);
          }
        }
      }
    } else if (response.content[type].schema) {
      const validate = validator([...responseAt, 'content', type, 'schema']);
      if (!validate(res.text)) {
        problems.push(`body: ${ajv.errorsText(validate.errors)}`);
      }
    }
  } else if (res.text.length > 0) {
    problems.push('a body where none is documented');
  }
  return problems;
}

// ------------------------------------------------------------------- requests

function matches(template, path) {
  const want = template.split('/');
  const got = path.split('?')[0].split('/');
  return want.length === got.length && want.every((w, i) => (/^\{.+\}$/.test(w) ? got[i] !== '' : w === got[i]));
}

const sign = (text) => 'sha256=' + createHmac('sha256', SECRET).update(text).digest('hex');

async function send(node, method, path, { headers = {}, body } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(20000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (typeof body !== 'string') {
      init.headers['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(node.url + path, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

const answered = new Map(); // operationId -> Set of statuses answered as documented

function describe(c, res, problems) {
  const lines = [
    `case:    ${c.name ?? ''}`,
    `request: ${c.method} ${c.path} (${c.node.name}) ${c.headers && Object.keys(c.headers).length ? JSON.stringify(c.headers) : ''}`,
  ];
  if (c.body !== undefined) {
    const b = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    lines.push(`body:    ${b.length > 300 ? b.slice(0, 300) + `... (${b.length} bytes)` : b}`);
  }
  if (res) {
    lines.push(`status:  ${res.status} ${res.headers.get('content-type') ?? ''}`);
    lines.push(`answer:  ${res.text.length > 600 ? res.text.slice(0, 600) + '...' : res.text}`);
  }
  for (const p of problems) {
    lines.push(`  - ${p}`);
  }
  return lines.join('\n');
}

/// Sends one request of operation `c.op` and checks the answer against the
/// document (and `c.status`, a number or a list, when given). Returns the
/// answer and the problems found.
async function exchange(c) {
  const info = operations.get(c.op);
  assert.ok(info, `no operation ${c.op} in the document`);
  const req = { ...c, method: (c.method ?? info.method).toUpperCase(), headers: { ...(c.headers ?? {}) } };
  if (isAdmin(info) && c.auth !== false) {
    req.headers.Authorization = `Bearer ${TOKEN}`;
  }
  if (!c.method) {
    assert.ok(matches(info.path, c.path), `case path ${c.path} does not match ${info.path} of ${c.op}`);
  }
  let res;
  try {
    res = await send(c.node, req.method, c.path, req);
  } catch (err) {
    const problems = [`request failed: ${err.message}${err.cause ? ` (${err.cause.message ?? err.cause})` : ''}`];
    return { res: null, problems, text: describe(req, null, problems) };
  }
  const problems = problemsOf(info, res);
  const want = c.status === undefined ? null : [].concat(c.status);
  if (want && !want.includes(res.status)) {
    problems.unshift(`expected status ${want.join(' or ')}, got ${res.status}`);
  }
  if (problems.length === 0) {
    if (!answered.has(c.op)) {
      answered.set(c.op, new Set());
    }
    answered.get(c.op).add(res.status);
  }
  return { res, problems, text: describe(req, res, problems) };
}

/// A fixture (or polling) step: an unexpected status stops the test; an
/// answer that does not match the document is reported at the end.
const stepProblems = [];
async function must(c) {
  const { res, problems, text } = await exchange({ name: `fixture: ${c.op}`, ...c });
  const want = c.status === undefined ? null : [].concat(c.status);
  if (!res || (want && !want.includes(res.status))) {
    throw new Error(`fixture step failed\n${text}`);
  }
  if (problems.length) {
    stepProblems.push(text);
  }
  return res;
}

/// Polls `probe` (which returns a value or undefined) until it answers.
async function until(what, probe, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) {
      return v;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(50); // polling interval
  }
}

// ------------------------------------------------------------------ the run

test('docs/openapi.json against a running ordo', { timeout: 10 * 60 * 1000 }, async (t) => {
  const nodes = [];
  const start = async (name, args) => {
    const n = await startOrdo(ORDO, ['--admin-token', TOKEN, '--payment-secret', SECRET, ...args]);
    n.name = name;
    nodes.push(n);
    return n;
  };
  try {
    await run(t, start);
  } finally {
    for (const n of nodes) {
      await n.stop();
    }
  }
});

async function run(t, start) {
  const deadPort = await freePort(); // nothing listens there
  const [clusterPort, absentPort] = [await freePort(), await freePort()];
  const main = await start('main', ['--notify-delay', '1s', '--dispatch-delay', '1s', '--technicians', 'tech1']);
  // A binary older than the dead-letter routes lacks --external-give-up:
  // then the letters node is left out (and coverage says what is missing).
  const help = spawnSync(ORDO, ['serve', '--help'], { encoding: 'utf8' }).stdout ?? '';
  const withLetters = help.includes('--external-give-up');
  if (!withLetters) {
    console.error(`# ${ORDO} has no --external-give-up: the dead-letter cases are skipped`);
  }
  const letters = withLetters
    ? await start('letters', [
      '--dedupe-retention', '1m', '--external-give-up', '1s',
      '--payment-provider', `http://127.0.0.1:${deadPort}`,
    ])
    : null;
  const cluster = await startClusterNode(start, clusterPort, absentPort);

  // The dead-letter node first: its letters to actors need 30 s to expire,
  // which runs while the main node's cases do.
  const dl = letters ? await lettersFixture(letters) : null;
  const fx = await mainFixture(main);
  const cx = await clusterFixture(cluster);

  const cases = [
    ...mainCases(main, fx),
    ...nodeCases(main, fx.nodeId),
    ...clusterCases(cluster, cx),
    ...generatedCases(main),
  ];
  const failures = [];
  const methodChecks = new Map(); // path template -> all its 405 cases passed
  const runCase = async (c) => {
    const info = operations.get(c.op);
    const method = (c.method ?? info?.method ?? '?').toUpperCase();
    const shown = typeof c.path === 'function' ? info?.path : c.path;
    const name = `${c.op} ${c.status}${c.note ? ` (${c.note})` : ''}`;
    await t.test(`${name}: ${method} ${shown} on ${c.node.name}`, async () => {
      if (c.before) {
        await c.before();
      }
      try {
        const req = { ...c, name, path: typeof c.path === 'function' ? c.path() : c.path };
        const { res, problems } = await exchange(req);
        if (c.check && res && problems.length === 0) {
          const more = await c.check(res);
          if (more) {
            problems.push(more);
          }
        }
        if (c.status === 405 && info) {
          methodChecks.set(info.path, (methodChecks.get(info.path) ?? true) && problems.length === 0);
        }
        if (problems.length) {
          const report = describe({ ...req, method }, res, problems);
          failures.push(report);
          assert.fail('\n' + report);
        }
      } finally {
        if (c.after) {
          await c.after();
        }
      }
    });
  };
  for (const c of cases) {
    await runCase(c);
  }
  if (letters) {
    for (const c of await lettersCases(letters, dl)) {
      await runCase(c);
    }
  }
  for (const c of faultCases(main)) {
    await runCase(c);
  }

  await t.test('fixture and polling answers match the document', () => {
    assert.ok(stepProblems.length === 0, `\n${stepProblems.join('\n\n')}`);
  });

  await t.test('GET /v1/openapi.json serves docs/openapi.json', async () => {
    const res = await send(main, 'GET', '/v1/openapi.json');
    assert.equal(res.status, 200, `GET /v1/openapi.json answered ${res.status}: ${res.text.slice(0, 200)}`);
    assert.ok(isDeepStrictEqual(res.json, doc),
      'the served document differs from docs/openapi.json (rebuild build/ordo: the document is embedded at build time)');
  });

  await t.test('undocumented paths answer 404 not_found', async () => {
    const notFound = deref(doc.components.responses.NotFound, ['components', 'responses', 'NotFound']);
    const validate = validator([...notFound.segments, 'content', 'application/json', 'schema']);
    const problems = [];
    for (const path of ['/', '/nope', '/v1', '/v1/skus', '/v1/orders/o1/x/y', '/console/a/b', '/v1/admin', '/v1/admin/outbox/1/retry/x', '/healthz/x']) {
      assert.ok(!Object.keys(doc.paths).some((p) => matches(p, path)), `${path} is documented`);
      const res = await send(main, 'GET', path);
      if (res.status !== 404 || !validate(res.json)) {
        problems.push(`GET ${path}: ${res.status} ${res.text.slice(0, 200)} ${validate.errors ? ajv.errorsText(validate.errors) : ''}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  await t.test('every documented path answers other methods 405 with Allow', () => {
    // The generated 405 cases above check it; this sums them up by path.
    const bad = Object.keys(doc.paths).filter((p) => methodChecks.get(p) !== true);
    assert.deepEqual(bad, [], 'paths whose 405 (with the documented methods in Allow) did not hold (see their cases)');
  });

  await t.test('coverage: every documented (operation, status) was answered', () => {
    const missing = [];
    for (const [id, info] of operations) {
      for (const status of Object.keys(info.op.responses)) {
        const key = `${id} ${status}`;
        if (UNREACHABLE.has(key)) {
          continue;
        }
        if (!answered.get(id)?.has(Number(status))) {
          missing.push(key);
        }
      }
    }
    for (const key of UNREACHABLE.keys()) {
      const [id, status] = key.split(' ');
      assert.ok(operations.get(id)?.op.responses[status], `UNREACHABLE lists ${key}, which the document does not`);
      assert.ok(!answered.get(id)?.has(Number(status)), `UNREACHABLE lists ${key}, but it was answered: take it out`);
    }
    assert.deepEqual(missing, [], `documented but never answered as documented:\n  ${missing.join('\n  ')}`);
  });

  if (failures.length || stepProblems.length) {
    console.error(`\n${failures.length} case(s) and ${stepProblems.length} fixture step(s) failed:\n\n${[...failures, ...stepProblems].join('\n\n')}`);
  }
}

// ------------------------------------------------------------------ fixtures

async function createOrder(node, user, key, items, extra = {}) {
  const res = await must({
    node, op: 'createOrder', status: 201, path: '/v1/orders',
    headers: { 'Idempotency-Key': key }, body: { user_id: user, items, ...extra },
  });
  return res.json;
}

async function pay(node, order, amount = order.payable, txn = `t-${order.order_id}`) {
  const body = JSON.stringify({ txn_id: txn, order_id: order.order_id, amount, status: 'SUCCESS' });
  const res = await must({
    node, op: 'paymentCallback', status: 200, path: '/v1/payments/callback',
    headers: { 'X-Ordo-Signature': sign(body) }, body,
  });
  return res.json.result;
}

async function mainFixture(node) {
  const put = (path, body) => must({ node, op: path.startsWith('/v1/skus') ? 'putSku' : 'putCoupon', status: 200, path, body });
  await put('/v1/skus/G1', { price: 1000, stock: 1000 });
  await put('/v1/skus/SV1', { price: 500, stock: 1000, kind: 'service' });
  await put('/v1/skus/LOW', { price: 100, stock: 1, kind: null });
  await put('/v1/coupons/C1', { user_id: 'u1', discount: 100, min_amount: 500 });
  await put('/v1/coupons/C2', { user_id: 'u2', discount: 100, min_amount: null });

  const g = (quantity = 1) => ({ sku: 'G1', quantity });
  const fx = { created: 0 };
  const created = async (...a) => {
    fx.created += 1;
    return createOrder(node, ...a);
  };
  fx.pendingBody = { user_id: 'u1', items: [g()], coupon_id: 'C1', affiliate_id: 'aff1' };
  fx.pending = await created('u1', 'k-pending', [g()], { coupon_id: 'C1', affiliate_id: 'aff1' });
  fx.paid1 = await created('u1', 'k-paid1', [g(2)], { affiliate_id: 'aff1', coupon_id: null });
  assert.equal(await pay(node, fx.paid1), 'captured');
  fx.paid2 = await created('u1', 'k-paid2', [g()]);
  assert.equal(await pay(node, fx.paid2), 'captured');
  fx.cancelled = await created('u3', 'k-cancel', [g()]);
  await must({ node, op: 'cancelOrder', status: 200, path: `/v1/orders/${fx.cancelled.order_id}/cancel`, body: { reason: 'changed my mind' } });
  fx.split = await created('u4', 'k-split', [g(), { sku: 'SV1', quantity: 1 }], { affiliate_id: 'aff1' });
  assert.equal(fx.split.children.length, 2);
  fx.split2 = await created('u5', 'k-split2', [g(), { sku: 'SV1', quantity: 2 }]);
  assert.equal(await pay(node, fx.split2), 'captured');
  // A split order whose goods child is paid on its own: cancelling the
  // parent then needs manual intervention.
  fx.split3 = await created('u8', 'k-split3', [g(), { sku: 'SV1', quantity: 1 }]);
  const goods3 = (await must({ node, op: 'getOrder', status: 200, path: `/v1/orders/${fx.split3.children[0]}` })).json;
  assert.equal(await pay(node, goods3), 'captured');
  fx.low = await created('u6', 'k-low', [{ sku: 'LOW', quantity: 1 }]);
  // Three cancels in a row: the next create of 'cap' needs a captcha.
  for (let i = 0; i < 3; ++i) {
    const o = await created('cap', `k-cap-${i}`, [g()]);
    await must({ node, op: 'cancelOrder', status: 200, path: `/v1/orders/${o.order_id}/cancel` });
  }
  // Five creates: the sixth of 'rl' within a minute is rate limited.
  for (let i = 0; i < 5; ++i) {
    await created('rl', `k-rl-${i}`, [g()]);
  }
  // The paid service child is dispatched after --dispatch-delay 1s.
  const serviceChild = fx.split2.children[1];
  fx.serviceChild = serviceChild;
  await until('the paid service child to be dispatched', async () => {
    const res = await must({ node, op: 'listDispatches', status: 200, path: `/v1/dispatches?order_id=${serviceChild}` });
    return res.json.dispatches[0]?.status === 'ASSIGNED' ? true : undefined;
  });
  fx.nodeId = (await must({ node, op: 'getCluster', status: 200, path: '/v1/admin/cluster' })).json.node_id;
  return fx;
}

async function startClusterNode(start, clusterPort, absentPort) {
  // Node "a" of {a, b}; b never starts, so b's partitions answer 503.
  return start('cluster', [
    '--node-id', 'a', '--cluster-port', String(clusterPort),
    '--peers', `a=127.0.0.1:${clusterPort},b=127.0.0.1:${absentPort}`,
  ]);
}

async function clusterFixture(node) {
  const res = await must({ node, op: 'getCluster', status: 200, path: '/v1/admin/cluster' });
  const p = res.json.partition_map.indexOf('b');
  assert.ok(p >= 0, 'node b owns no partition');
  const order = `o${p.toString(16).padStart(4, '0')}-0123456789abcdef`;
  // A key (SKU, coupon, affiliate, user) placed on b: ask until one is.
  let key;
  for (let i = 0; !key; ++i) {
    assert.ok(i < 200, 'no key placed on node b among k0..k199');
    const r = await must({ node, op: 'getSku', status: [404, 503], path: `/v1/skus/k${i}` });
    if (r.status === 503) {
      key = `k${i}`;
    }
  }
  return { order, key };
}

async function lettersFixture(node) {
  await must({ node, op: 'putSku', status: 200, path: '/v1/skus/X', body: { price: 700, stock: 10 } });
  // Paid, then refunded: the refund call cannot reach the provider and is
  // given up after 1 s, a dead letter.
  const refunded = await createOrder(node, 'd1', 'k-d1', [{ sku: 'X', quantity: 1 }]);
  assert.equal(await pay(node, refunded), 'captured');
  await must({ node, op: 'refundOrder', status: 200, path: `/v1/orders/${refunded.order_id}/refund` });
  const pending = await createOrder(node, 'd2', 'k-d2', [{ sku: 'X', quantity: 1 }]);
  const deadLetters = async () =>
    (await must({ node, op: 'listOutbox', status: 200, path: '/v1/admin/outbox?state=dead&limit=1000' })).json.messages;
  const given = await until('a dead letter to the payment provider', async () => {
    const m = (await deadLetters()).find((x) => x.to.startsWith('payment'));
    return m ? m.seq : undefined;
  });
  // Letters to actors stuck behind relay.deliver=error: they expire after
  // half of --dedupe-retention (30 s), and such a letter cannot be retried.
  await must({ node, op: 'armFault', status: 200, path: '/v1/admin/faults', body: { point: 'relay.deliver', action: 'error' } });
  await must({ node, op: 'cancelOrder', status: 200, path: `/v1/orders/${pending.order_id}/cancel` });
  const self = (await must({ node, op: 'getCluster', status: 200, path: '/v1/admin/cluster' })).json.node_id;
  return { given, deadLetters, self };
}

// --------------------------------------------------------------------- cases

function mainCases(node, fx) {
  const c = (op, status, path, more = {}) => ({ node, op, status, path, ...more });
  const pendingId = fx.pending.order_id;
  const [splitGoods] = fx.split.children;
  const noOrder = 'o0000-0000000000000000';
  const cb = (obj, sig) => {
    const body = typeof obj === 'string' ? obj : JSON.stringify(obj);
    return { body, headers: sig === undefined ? { 'X-Ordo-Signature': sign(body) } : sig === null ? {} : { 'X-Ordo-Signature': sig } };
  };
  const operator = { 'X-Ordo-Operator': 'openapi test' };
  const settledReport = async () => {
    // The report trails the orders by the relay's delivery: wait until it
    // has counted every order placed and the three flash cancels of 'cap'.
    await until('the sales report to catch up', async () => {
      const r = await must({ node, op: 'getSalesReport', status: 200, path: '/v1/reports/sales' });
      const cap = r.json.top_flash_cancel_users.find((u) => u.user_id === 'cap');
      return r.json.placed.count === fx.created && cap?.count === 3 ? true : undefined;
    });
  };
  return [
    // operations
    c('getHealth', 200, '/healthz'),
    c('getReadiness', 200, '/readyz'),
    c('getMetrics', 200, '/metrics', {
      check: (res) => (/^ordo_refunds_owed /m.test(res.text) ? null : 'metrics lack ordo_refunds_owed'),
    }),
    c('getOpenApi', 200, '/v1/openapi.json'),
    c('getConsole', 200, '/console'),
    c('getConsoleAsset', 200, '/console/index.html'),
    c('getConsoleAsset', 200, '/console/app.js'),
    c('getConsoleAsset', 200, '/console/app.css'),
    c('getConsoleAsset', 404, '/console/nope.js', { note: 'no such file' }),
    c('getConsoleAsset', 404, '/console/.env', { note: 'not a plain file name' }),

    // catalog
    c('getSku', 200, '/v1/skus/G1'),
    c('getSku', 200, '/v1/skus/SV1'),
    c('getSku', 404, '/v1/skus/NOPE'),
    c('getSku', 400, '/v1/skus/a%20b', { note: 'malformed id' }),
    c('getSku', 401, '/v1/skus/G1', { auth: false }),
    c('putSku', 200, '/v1/skus/G1', { body: { price: 1000, stock: 1000 }, note: 'same values' }),
    c('putSku', 400, '/v1/skus/G2', { body: { price: -1, stock: 1 }, note: 'negative price' }),
    c('putSku', 400, '/v1/skus/G2', { body: { price: 1, stock: 1, colour: 'red' }, note: 'unknown field' }),
    c('putSku', 400, '/v1/skus/G2', { body: { price: 1.5, stock: 1 }, note: 'non-integer' }),
    c('putSku', 400, '/v1/skus/G2', { body: '{"price": 1, ', note: 'malformed JSON' }),
    c('putSku', 400, '/v1/skus/G2', { body: { price: 1, stock: 1, kind: 'gadget' }, note: 'unknown kind' }),
    c('putSku', 409, '/v1/skus/LOW', { body: { price: 100, stock: 0 }, note: 'below what is reserved' }),
    c('putSku', 401, '/v1/skus/G2', { auth: false, body: { price: 1, stock: 1 } }),
    c('getCoupon', 200, '/v1/coupons/C1'),
    c('getCoupon', 404, '/v1/coupons/NOPE'),
    c('getCoupon', 400, '/v1/coupons/a%2Fb', { note: "an id with '/'" }),
    c('getCoupon', 401, '/v1/coupons/C1', { auth: false }),
    c('putCoupon', 200, '/v1/coupons/C2', { body: { user_id: 'u2', discount: 100 } }),
    c('putCoupon', 400, '/v1/coupons/C3', { body: { user_id: 'u2' }, note: 'no discount' }),
    c('putCoupon', 400, '/v1/coupons/C3', { body: { user_id: 'u2', discount: 0 }, note: 'zero discount' }),
    c('putCoupon', 409, '/v1/coupons/C1', { body: { user_id: 'u1', discount: 50 }, note: 'LOCKED by an order' }),
    c('putCoupon', 401, '/v1/coupons/C3', { auth: false, body: { user_id: 'u2', discount: 1 } }),

    // orders
    c('createOrder', 200, '/v1/orders', { headers: { 'Idempotency-Key': 'k-pending' }, body: fx.pendingBody, note: 'same key, same body' }),
    c('createOrder', 422, '/v1/orders', { headers: { 'Idempotency-Key': 'k-pending' }, body: { ...fx.pendingBody, items: [{ sku: 'G1', quantity: 2 }] }, note: 'same key, other body' }),
    c('createOrder', 400, '/v1/orders', { body: { user_id: 'u7', items: [{ sku: 'G1', quantity: 1 }] }, note: 'no Idempotency-Key' }),
    c('createOrder', 400, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [] }, note: 'no items' }),
    c('createOrder', 400, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [{ sku: 'G1', quantity: 0 }] }, note: 'zero quantity' }),
    c('createOrder', 400, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [{ sku: 'G1', quantity: 1 }], gift: true }, note: 'unknown field' }),
    c('createOrder', 404, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [{ sku: 'NOPE', quantity: 1 }] }, note: 'unknown SKU' }),
    c('createOrder', 409, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [{ sku: 'LOW', quantity: 5 }] }, note: 'insufficient_stock',
      check: (res) => (res.json.error === 'insufficient_stock' ? null : `error ${res.json.error}`) }),
    c('createOrder', 409, '/v1/orders', { headers: { 'Idempotency-Key': 'k-u7' }, body: { user_id: 'u7', items: [{ sku: 'G1', quantity: 1 }], coupon_id: 'C2' }, note: "coupon_unavailable: another user's",
      check: (res) => (res.json.error === 'coupon_unavailable' ? null : `error ${res.json.error}`) }),
    c('createOrder', 403, '/v1/orders', { headers: { 'Idempotency-Key': 'k-cap-3' }, body: { user_id: 'cap', items: [{ sku: 'G1', quantity: 1 }] }, note: 'captcha after 3 cancels' }),
    c('createOrder', 429, '/v1/orders', { headers: { 'Idempotency-Key': 'k-rl-5' }, body: { user_id: 'rl', items: [{ sku: 'G1', quantity: 1 }] }, note: 'sixth in the window' }),
    c('getOrder', 200, `/v1/orders/${pendingId}`),
    c('getOrder', 200, `/v1/orders/${fx.split.order_id}`, { note: 'split parent' }),
    c('getOrder', 200, `/v1/orders/${fx.split2.children[0]}`, { note: 'paid child' }),
    c('getOrder', 200, `/v1/orders/${fx.serviceChild}`, { note: 'dispatched child' }),
    c('getOrder', 200, `/v1/orders/${fx.cancelled.order_id}`, { note: 'cancelled' }),
    c('getOrder', 404, `/v1/orders/${noOrder}`),
    c('getOrder', 400, '/v1/orders/a%20b'),
    c('listUserOrders', 200, '/v1/users/u1/orders'),
    c('listUserOrders', 200, '/v1/users/u1/orders?limit=1', {
      check: async (res) => {
        if (typeof res.json.next_cursor !== 'string') {
          return 'limit=1 of three orders gave no next_cursor';
        }
        const next = await exchange({ node, op: 'listUserOrders', status: 200, path: `/v1/users/u1/orders?limit=1&cursor=${res.json.next_cursor}` });
        return next.problems.length ? next.text : null;
      },
    }),
    c('listUserOrders', 200, '/v1/users/nobody/orders', { note: 'unknown user' }),
    c('listUserOrders', 400, '/v1/users/u1/orders?limit=0'),
    c('listUserOrders', 400, '/v1/users/u1/orders?cursor=XYZ'),
    c('listUserOrders', 400, '/v1/users/u1/orders?page=2', { note: 'unknown parameter' }),
    c('cancelOrder', 200, `/v1/orders/${fx.cancelled.order_id}/cancel`, { note: 'cancelled again: unchanged' }),
    c('cancelOrder', 200, `/v1/orders/${fx.split3.order_id}/cancel`, { body: { reason: null }, note: 'a split parent with a paid child',
      check: (res) => (res.json.status === 'MANUAL_INTERVENTION' && res.json.manual_reason ? null : `status ${res.json.status}`) }),
    c('cancelOrder', 409, `/v1/orders/${fx.paid1.order_id}/cancel`, { note: 'already_paid' }),
    c('cancelOrder', 409, `/v1/orders/${splitGoods}/cancel`, { note: 'a child: invalid_transition',
      check: (res) => (res.json.error === 'invalid_transition' ? null : `error ${res.json.error}`) }),
    c('cancelOrder', 404, `/v1/orders/${noOrder}/cancel`),
    c('cancelOrder', 400, `/v1/orders/${pendingId}/cancel`, { body: { reason: 'x'.repeat(257) }, note: 'reason too long' }),
    c('cancelOrder', 400, `/v1/orders/${pendingId}/cancel`, { body: { why: 'x' }, note: 'unknown field' }),
    c('completeOrder', 200, `/v1/orders/${fx.paid1.order_id}/complete`),
    c('completeOrder', 409, `/v1/orders/${pendingId}/complete`, { note: 'unpaid' }),
    c('completeOrder', 409, `/v1/orders/${fx.split2.order_id}/complete`, { note: 'a split parent' }),
    c('completeOrder', 404, `/v1/orders/${noOrder}/complete`),
    c('completeOrder', 400, '/v1/orders/a%20b/complete'),
    c('completeOrder', 401, `/v1/orders/${pendingId}/complete`, { auth: false }),
    c('completeOrder', 200, `/v1/orders/${fx.serviceChild}/complete`, { note: 'a dispatched child' }),
    c('refundOrder', 200, `/v1/orders/${fx.paid2.order_id}/refund`),
    c('refundOrder', 409, `/v1/orders/${pendingId}/refund`, { note: 'unpaid' }),
    c('refundOrder', 404, `/v1/orders/${noOrder}/refund`),
    c('refundOrder', 400, '/v1/orders/a%20b/refund'),
    c('refundOrder', 401, `/v1/orders/${pendingId}/refund`, { auth: false }),
    c('refundOrder', 200, `/v1/orders/${fx.split2.children[0]}/refund`, { note: 'a paid child' }),

    // payments
    c('paymentCallback', 200, '/v1/payments/callback', { ...cb({ txn_id: `t-${fx.paid1.order_id}`, order_id: fx.paid1.order_id, amount: fx.paid1.payable, status: 'SUCCESS' }), note: 'duplicate',
      check: (res) => (res.json.result === 'duplicate' ? null : `result ${res.json.result}`) }),
    c('paymentCallback', 200, '/v1/payments/callback', { ...cb({ txn_id: 't-failed', order_id: pendingId, amount: 1, status: 'FAILED' }), note: 'ignored' }),
    c('paymentCallback', 200, '/v1/payments/callback', { ...cb({ txn_id: 't-late', order_id: fx.cancelled.order_id, amount: fx.cancelled.payable, status: 'SUCCESS' }), note: 'for a cancelled order: refunded',
      check: (res) => (res.json.result === 'refunded' ? null : `result ${res.json.result}`) }),
    c('paymentCallback', 401, '/v1/payments/callback', { ...cb({ txn_id: 't-x', order_id: pendingId, amount: 1, status: 'SUCCESS' }, `sha256=${'0'.repeat(64)}`), note: 'wrong signature' }),
    c('paymentCallback', 401, '/v1/payments/callback', { ...cb({ txn_id: 't-x', order_id: pendingId, amount: 1, status: 'SUCCESS' }, null), note: 'no signature' }),
    c('paymentCallback', 404, '/v1/payments/callback', { ...cb({ txn_id: 't-x', order_id: noOrder, amount: 1, status: 'SUCCESS' }), note: 'unknown order' }),
    c('paymentCallback', 400, '/v1/payments/callback', { ...cb({ txn_id: 't-x', order_id: pendingId, amount: 1, status: 'PAID' }), note: 'unknown status' }),
    c('paymentCallback', 400, '/v1/payments/callback', { ...cb({ txn_id: 't-x', order_id: pendingId, amount: -1, status: 'SUCCESS' }), note: 'negative amount' }),

    // side effects
    c('listNotifications', 200, `/v1/notifications?order_id=${pendingId}`),
    c('listNotifications', 200, `/v1/notifications?order_id=${fx.cancelled.order_id}`),
    c('listNotifications', 404, `/v1/notifications?order_id=${noOrder}`),
    c('listNotifications', 400, '/v1/notifications'),
    c('listNotifications', 400, `/v1/notifications?order_id=${pendingId}&x=1`),
    c('listDispatches', 200, `/v1/dispatches?order_id=${fx.serviceChild}`),
    c('listDispatches', 200, `/v1/dispatches?order_id=${pendingId}`, { note: 'none' }),
    c('listDispatches', 404, `/v1/dispatches?order_id=${noOrder}`),
    c('listDispatches', 400, '/v1/dispatches?order_id='),
    c('getCommissions', 200, '/v1/affiliates/aff1/commissions'),
    c('getCommissions', 200, '/v1/affiliates/nobody/commissions', { note: 'no orders: zeros' }),
    c('getCommissions', 400, '/v1/affiliates/a%20b/commissions'),

    // reports
    c('getSalesReport', 200, '/v1/reports/sales', { before: settledReport }),
    c('getSalesReport', 200, '/v1/reports/sales?top=1'),
    c('getSalesReport', 400, '/v1/reports/sales?top=0'),
    c('getSalesReport', 400, '/v1/reports/sales?tops=1'),
    c('getSalesReport', 401, '/v1/reports/sales', { auth: false }),

    // admin
    c('getLastAudit', 200, '/v1/admin/audit/last'),
    c('getAudit', 200, '/v1/admin/audit'),
    c('runAudit', 200, '/v1/admin/audit', { headers: operator }),
    c('runAudit', 400, '/v1/admin/audit', { note: 'no X-Ordo-Operator' }),
    c('runAudit', 400, '/v1/admin/audit', { headers: { 'X-Ordo-Operator': 'o'.repeat(65) }, note: 'X-Ordo-Operator too long' }),
    c('getLastAudit', 200, '/v1/admin/audit/last', { note: 'after a run',
      check: (res) => (res.json.trigger === 'request' && res.json.at !== null ? null : 'the run asked for is not the last') }),
    ...['order', 'sku', 'coupon', 'affiliate', 'notifier', 'dispatcher', 'technicians', 'limiter', 'report'].map((kind) => {
      const id = { order: fx.split.order_id, sku: 'G1', coupon: 'C1', affiliate: 'aff1', notifier: pendingId,
        dispatcher: fx.serviceChild, technicians: 'tech1', limiter: 'cap', report: pendingId.slice(0, 5) }[kind];
      return c('inspectActor', 200, `/v1/admin/actors/${kind}/${id}`, { note: kind });
    }),
    c('inspectActor', 200, `/v1/admin/actors/order/${noOrder}`, { note: 'never written' }),
    c('inspectActor', 404, '/v1/admin/actors/bogus/x', { note: 'unknown kind' }),
    c('inspectActor', 400, '/v1/admin/actors/order/a%20b'),
    c('listOutbox', 200, '/v1/admin/outbox'),
    c('listOutbox', 200, '/v1/admin/outbox?state=dead&limit=5'),
    c('listOutbox', 400, '/v1/admin/outbox?state=gone'),
    c('listOutbox', 400, '/v1/admin/outbox?limit=0'),
    c('listFaults', 200, '/v1/admin/faults'),
    // cluster.forward never fires on a single node: harmless to arm.
    c('armFault', 200, '/v1/admin/faults', { headers: operator, body: { point: 'cluster.forward', action: 'delay', delay_ms: 5, count: 1 } }),
    c('armFault', 200, '/v1/admin/faults', { body: { point: 'cluster.forward', action: 'error', probability: 0.5 }, note: 'no operator: unnamed' }),
    c('armFault', 400, '/v1/admin/faults', { body: { point: 'no.such.point', action: 'error' } }),
    c('armFault', 400, '/v1/admin/faults', { body: { point: 'cluster.forward', action: 'delay' }, note: 'delay without delay_ms' }),
    c('armFault', 400, '/v1/admin/faults', { headers: { 'X-Ordo-Operator': 'o'.repeat(65) }, body: { point: 'cluster.forward', action: 'error' }, note: 'X-Ordo-Operator too long' }),
    c('listFaults', 200, '/v1/admin/faults', { note: 'one armed' }),
    c('clearFault', 200, '/v1/admin/faults/cluster.forward', { headers: operator }),
    c('clearFault', 404, '/v1/admin/faults/cluster.forward', { note: 'none armed' }),
    c('clearFault', 400, '/v1/admin/faults/a%20b'),
    c('clearFaults', 200, '/v1/admin/faults'),
    c('clearFaults', 400, '/v1/admin/faults', { headers: { 'X-Ordo-Operator': 'o'.repeat(65) } }),
    c('listOperatorLog', 200, '/v1/admin/operator-log'),
    c('listOperatorLog', 200, '/v1/admin/operator-log?limit=1'),
    c('listOperatorLog', 400, '/v1/admin/operator-log?limit=1001'),
    c('listOperatorLog', 400, '/v1/admin/operator-log?since=1'),
    c('getCluster', 200, '/v1/admin/cluster'),
    c('getCluster', 200, `/v1/admin/cluster?order_id=${pendingId}`, {
      check: (res) => (res.json.owner?.order_id === pendingId ? null : 'no owner'),
    }),
    c('getCluster', 404, '/v1/admin/cluster?order_id=nope', { note: 'not an order id' }),
    c('getCluster', 400, '/v1/admin/cluster?order_id=a%20b'),
    c('getCluster', 400, '/v1/admin/cluster?node=a'),
    c('listSms', 200, '/v1/admin/sms', {
      before: () => until('an SMS sent', async () => {
        const r = await must({ node, op: 'listSms', status: 200, path: '/v1/admin/sms' });
        return r.json.sms.length ? true : undefined;
      }),
    }),
    c('listSandboxCalls', 200, '/v1/admin/sandbox/calls', {
      before: () => until('a refund call to the sandbox', async () => {
        const r = await must({ node, op: 'listSandboxCalls', status: 200, path: '/v1/admin/sandbox/calls' });
        return r.json.calls.some((x) => x.kind === 'refund') ? true : undefined;
      }),
    }),
  ];
}

function clusterCases(node, { order, key }) {
  const c = (op, path, more = {}) => ({ node, op, status: 503, path, note: 'owner unreachable', ...more });
  const callback = JSON.stringify({ txn_id: 't-c', order_id: order, amount: 1, status: 'SUCCESS' });
  return [
    { node, op: 'getCluster', status: 200, path: '/v1/admin/cluster', note: 'with a peer' },
    c('getSku', `/v1/skus/${key}`),
    c('putSku', `/v1/skus/${key}`, { body: { price: 1, stock: 1 } }),
    c('getCoupon', `/v1/coupons/${key}`),
    c('putCoupon', `/v1/coupons/${key}`, { body: { user_id: 'u1', discount: 1 } }),
    c('createOrder', '/v1/orders', { headers: { 'Idempotency-Key': 'k' }, body: { user_id: key, items: [{ sku: 'G1', quantity: 1 }] } }),
    c('getOrder', `/v1/orders/${order}`),
    c('listUserOrders', `/v1/users/${key}/orders`),
    c('cancelOrder', `/v1/orders/${order}/cancel`),
    c('completeOrder', `/v1/orders/${order}/complete`),
    c('refundOrder', `/v1/orders/${order}/refund`),
    c('paymentCallback', '/v1/payments/callback', { headers: { 'X-Ordo-Signature': sign(callback) }, body: callback }),
    c('listNotifications', `/v1/notifications?order_id=${order}`),
    c('listDispatches', `/v1/dispatches?order_id=${order}`),
    c('getCommissions', `/v1/affiliates/${key}/commissions`),
    c('getSalesReport', '/v1/reports/sales', { note: 'a node unreachable' }),
    c('inspectActor', `/v1/admin/actors/order/${order}`),
    // ?node=b: the per-node routes are passed to b, which is down.
    ...PER_NODE.map(([op, path, more]) => c(op, withNode(path, 'b'), { note: '?node=b, unreachable', headers: { 'X-Ordo-Operator': 'openapi test' }, ...more })),
    { node, op: 'listFaults', status: 200, path: '/v1/admin/faults?node=a', note: '?node=a, this node of a cluster' },
    { node, op: 'listOperatorLog', status: 404, path: '/v1/admin/operator-log?node=c', note: '?node=c, not a member',
      check: (res) => (res.json.message === 'no node c in this cluster' ? null : `message ${JSON.stringify(res.json.message)}`) },
  ];
}

// The per-node operations (`?node=ID`), each with a path and what its
// request needs (a body).
const PER_NODE = [
  ['getMetrics', '/metrics'],
  ['listSandboxCalls', '/v1/admin/sandbox/calls'],
  ['getAudit', '/v1/admin/audit'],
  ['runAudit', '/v1/admin/audit'],
  ['getLastAudit', '/v1/admin/audit/last'],
  ['listOutbox', '/v1/admin/outbox?state=dead'],
  ['retryDeadLetter', '/v1/admin/outbox/1/retry'],
  ['discardDeadLetter', '/v1/admin/outbox/1'],
  ['listOperatorLog', '/v1/admin/operator-log?limit=5'],
  ['listFaults', '/v1/admin/faults'],
  // cluster.forward never fires on a single node: harmless to arm.
  ['armFault', '/v1/admin/faults', { body: { point: 'cluster.forward', action: 'delay', delay_ms: 5, count: 1 } }],
  ['clearFault', '/v1/admin/faults/cluster.forward'],
  ['clearFaults', '/v1/admin/faults'],
  ['listSms', '/v1/admin/sms'],
];

const withNode = (path, id) => `${path}${path.includes('?') ? '&' : '?'}node=${encodeURIComponent(id)}`;

/// `?node=` on a single node: its own id is served as without it (the
/// dead letters' retry and discard in lettersCases), any other is 404, the
/// parameter given twice 400.
function nodeCases(node, self) {
  const operator = { 'X-Ordo-Operator': 'openapi test' };
  const notFound = (id) => (res) => (res.json.message.startsWith(`no node ${id} in `) ? null : `message ${JSON.stringify(res.json.message)}`);
  const cases = [];
  for (const [op, path, more] of PER_NODE) {
    if (op !== 'retryDeadLetter' && op !== 'discardDeadLetter') {
      cases.push({ node, op, status: 200, path: withNode(path, self), headers: operator, note: `?node=${self}, its own id`, ...more });
    }
    cases.push({ node, op, status: 404, path: withNode(path, 'nope'), headers: operator, note: '?node=nope', check: notFound('nope'), ...more });
    cases.push({ node, op, status: 400, path: withNode(withNode(path, self), self), headers: operator, note: 'node given twice', ...more });
  }
  cases.push(
    { node, op: 'listOutbox', status: 404, path: '/v1/admin/outbox?node=', note: '?node= (empty)' },
    { node, op: 'getMetrics', status: 404, path: '/metrics?node=a', note: '?node=a, not this node', check: notFound('a') },
  );
  return cases;
}

async function lettersCases(node, { given, deadLetters, self }) {
  const operator = { 'X-Ordo-Operator': 'openapi test' };
  const c = (op, status, path, more = {}) => ({ node, op, status, path, headers: operator, ...more });
  const anyGivenUp = () => until('a dead letter to the payment provider', async () => {
    const m = (await deadLetters()).find((x) => x.to.startsWith('payment'));
    return m ? m.seq : undefined;
  });
  const cases = [
    c('retryDeadLetter', 200, `/v1/admin/outbox/${given}/retry`, {
      check: (res) => (res.json.retried === given && res.json.seq > given ? null : 'retried/seq do not name the letter'),
    }),
    c('retryDeadLetter', 404, `/v1/admin/outbox/${given}/retry`, { note: 'no longer a dead letter' }),
    c('retryDeadLetter', 400, '/v1/admin/outbox/abc/retry'),
    c('retryDeadLetter', 400, '/v1/admin/outbox/0/retry'),
    c('retryDeadLetter', 400, `/v1/admin/outbox/${given}/retry`, { headers: {}, note: 'no X-Ordo-Operator' }),
    c('retryDeadLetter', 401, `/v1/admin/outbox/${given}/retry`, { auth: false }),
    c('discardDeadLetter', 404, '/v1/admin/outbox/999999999'),
    c('discardDeadLetter', 400, '/v1/admin/outbox/01'),
    c('discardDeadLetter', 400, '/v1/admin/outbox/1', { headers: {}, note: 'no X-Ordo-Operator' }),
    c('discardDeadLetter', 401, '/v1/admin/outbox/1', { auth: false }),
  ];
  // While the disk counts as full: writes, and /readyz, answer 503.
  let full;
  const diskLow = async () => {
    await must({ node, op: 'armFault', status: 200, path: '/v1/admin/faults', body: { point: 'store.disk_low', action: 'error' } });
    await until('/readyz to refuse', async () => {
      const r = await must({ node, op: 'getReadiness', status: [200, 503], path: '/readyz' });
      return r.status === 503 ? true : undefined;
    });
  };
  const diskBack = async () => {
    await must({ node, op: 'clearFault', status: 200, path: '/v1/admin/faults/store.disk_low' });
    await until('/readyz to be ready again', async () => {
      const r = await must({ node, op: 'getReadiness', status: [200, 503], path: '/readyz' });
      return r.status === 200 ? true : undefined;
    });
  };
  cases.push(
    { node, op: 'getReadiness', status: 503, path: '/readyz', note: 'disk low', before: async () => {
      full = await anyGivenUp();
      await diskLow();
    } },
    c('retryDeadLetter', 503, () => `/v1/admin/outbox/${full}/retry`, { note: 'disk low' }),
    c('discardDeadLetter', 503, () => `/v1/admin/outbox/${full}`, { note: 'disk low', after: diskBack }),
  );
  // A letter given up after the retry above, discarded.
  let again;
  cases.push(c('discardDeadLetter', 200, () => `/v1/admin/outbox/${again}`, {
    before: async () => { again = await anyGivenUp(); },
    check: (res) => (res.json.discarded === again ? null : 'discarded does not name the letter'),
  }));
  // The same with ?node= naming this node: retried, given up again, discarded.
  let mine;
  cases.push(
    c('retryDeadLetter', 200, () => `/v1/admin/outbox/${mine}/retry?node=${self}`, {
      note: `?node=${self}, its own id`,
      before: async () => { mine = await anyGivenUp(); },
      check: (res) => (res.json.retried === mine ? null : 'retried does not name the letter'),
    }),
    c('discardDeadLetter', 200, () => `/v1/admin/outbox/${mine}?node=${self}`, {
      note: `?node=${self}, its own id`,
      before: async () => { mine = await anyGivenUp(); },
      check: (res) => (res.json.discarded === mine ? null : 'discarded does not name the letter'),
    }),
  );
  // A letter to an actor that expired on its way: never delivered again.
  let expired;
  cases.push(
    c('retryDeadLetter', 409, () => `/v1/admin/outbox/${expired}/retry`, {
      note: 'expired on its way to an actor',
      before: async () => {
        expired = await until('a letter to an actor to expire (30 s)', async () => {
          const m = (await deadLetters()).find((x) => !x.to.startsWith('payment') && !x.to.startsWith('sms') && /expired/.test(x.last_error ?? ''));
          return m ? m.seq : undefined;
        }, 120000);
      },
    }),
    c('discardDeadLetter', 200, () => `/v1/admin/outbox/${expired}`, { note: 'an expired letter' }),
    c('listOperatorLog', 200, '/v1/admin/operator-log', { headers: {}, check: (res) => (res.json.entries.some((e) => e.action === 'dead_letter.retry') ? null : 'no dead_letter.retry entry') }),
    { node, op: 'listOutbox', status: 200, path: '/v1/admin/outbox', note: 'with destinations' },
  );
  return cases;
}

/// The path of `template` with every parameter filled in.
function concrete(template) {
  return template
    .replace('{seq}', '1')
    .replace('{file}', 'app.js')
    .replace('{kind}', 'order')
    .replace(/\{[^}]+\}/g, 'x');
}

/// 401 without the token, 405 for a method a path lacks, 413 for bodies.
function generatedCases(node) {
  const cases = [];
  for (const info of operations.values()) {
    if (isAdmin(info) && info.op.responses['401']) {
      cases.push({ node, op: info.id, status: 401, path: concrete(info.path), auth: false, note: 'no token' });
    }
    if (info.op.requestBody && info.op.responses['413']) {
      cases.push({ node, op: info.id, status: 413, path: concrete(info.path), body: 'x'.repeat(1024 * 1024 + 1), note: 'body over 1 MiB' });
    }
  }
  for (const [path, item] of Object.entries(doc.paths)) {
    const documented = METHODS.filter((m) => item[m]);
    const allow = documented.map((m) => m.toUpperCase()).sort();
    for (const m of documented) {
      cases.push({
        node, op: item[m].operationId, status: 405, path: concrete(path), method: 'PATCH',
        note: 'a method the path lacks',
        check: (res) => {
          const got = (res.headers.get('allow') ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort();
          return isDeepStrictEqual(got, allow) ? null : `Allow: ${got.join(', ')}; documented: ${allow.join(', ')}`;
        },
      });
    }
  }
  return cases;
}

/// 500 internal on every operation that documents it: the fault point
/// gateway.before_reply=error turns the next replies into 500s. It is
/// armed with count 2: the arming request's own reply is the first.
function faultCases(node) {
  const cases = [];
  for (const info of operations.values()) {
    if (!info.op.responses['500'] || UNREACHABLE.has(`${info.id} 500`)) {
      continue;
    }
    cases.push({
      node, op: info.id, status: 500, path: concrete(info.path), note: 'gateway.before_reply=error',
      before: () => must({ node, op: 'armFault', status: 500, path: '/v1/admin/faults', body: { point: 'gateway.before_reply', action: 'error', count: 2 } }),
    });
  }
  return cases;
}
