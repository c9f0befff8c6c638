// Browser tests of the operator console against a 3-node cluster (issue
// 18): three real `ordo serve` processes on loopback (nodes a, b and c, 16
// partitions), headless Debian Chromium driven by playwright-core logged
// into node a's console. Orders owned by c are opened through a (the
// requests are forwarded), changed through b; the per-node pages (outbox,
// audit, faults, metrics) are pointed at b and c with their node selector
// (?node=ID on every call); finally c is killed. Screenshots go to --shots
// DIR: cluster-3, order-forwarded, outbox-node-c, outbox-node-c-375,
// faults-node-b, metrics-node-b, cluster-3-down (.png).
//
//   node console/tests/cluster.test.mjs [--ordo build/ordo] [--shots build/console-shots]
//        [--console-dir DIR] [--chromium /usr/bin/chromium]
//
// --console-dir serves that built console instead of the one embedded in
// the binary. Waits are Playwright's auto-waiting locators or polls of the
// API, each with a timeout; nothing sleeps for a fixed time. The tests run
// in order and share the cluster; the last one kills node c.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { must, payCallback, startCluster, until } from './lib/ordo.mjs';
import { launchChromium, openConsole as openConsoleAt, options, shot } from './lib/browser.mjs';

const { ordo: ORDO, shots: SHOTS, consoleDir: CONSOLE_DIR } = options;
const TOKEN = 'console-cluster-token';
const SECRET = 'console-cluster-secret';
const OPERATOR = 'bob';
const PARTITIONS = 16;
const IDS = ['a', 'b', 'c'];
const WAIT = 20000;

let cluster;
let a;
let b;
let c;
let browser;
/** Per node id, the orders it owns (created in before()). */
const owned = { a: [], b: [], c: [] };

// Should the test process die without running after(), no node outlives it.
process.on('exit', () => {
  for (const n of Object.values(cluster?.nodes ?? {})) {
    if (n.proc.exitCode === null && n.proc.signalCode === null) {
      n.proc.kill('SIGKILL');
    }
  }
});

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A refund call that fails is a dead letter after 2 s (the outbox test).
  const args = ['--rate-limit', 'off', '--captcha-after', '0', '--audit-interval', '0', '--external-give-up', '2s'];
  if (CONSOLE_DIR) {
    args.push('--console-dir', CONSOLE_DIR);
  }
  cluster = await startCluster(ORDO, { token: TOKEN, secret: SECRET, ids: IDS, partitions: PARTITIONS, args });
  ({ a, b, c } = cluster.nodes);

  // SKUs live in the partition of their id: put them through different nodes.
  await must(b.url, 'PUT', '/v1/skus/A', { token: TOKEN, body: { price: 1999, stock: 1000 } });
  await must(c.url, 'PUT', '/v1/skus/B', { token: TOKEN, body: { price: 500, stock: 1000 } });
  // Orders live in their user's partition: create them for new users, each
  // through the next node, until every node owns at least one.
  for (let i = 0; IDS.some((id) => owned[id].length === 0); i++) {
    assert.ok(i < 200, `200 users did not give every node an order: ${JSON.stringify(owned)}`);
    await newOrder(`cu-${i}`, i);
  }

  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await cluster?.stop();
});

// --- helpers ---------------------------------------------------------------

function admin(node, method, path, body, operator = OPERATOR) {
  return must(node.url, method, path, { token: TOKEN, body, headers: method === 'GET' ? {} : { 'X-Ordo-Operator': operator } });
}

/** An order for `user`, created through node a, b or c (`i` mod 3), filed under its owner in `owned`. */
async function newOrder(user, i) {
  const order = await must([a, b, c][i % 3].url, 'POST', '/v1/orders', {
    headers: { 'Idempotency-Key': `cluster-${user}` },
    body: { user_id: user, items: [{ sku: 'A', quantity: 1 }, { sku: 'B', quantity: 2 }] },
  });
  const { owner } = await admin(a, 'GET', `/v1/admin/cluster?order_id=${order.order_id}`);
  const o = { ...order, partition: owner.partition };
  owned[owner.node].push(o);
  return { ...o, node: owner.node };
}

/** A new order owned by node `id` (created for new users `tag-0`, `tag-1`, ... until one lands there). */
async function orderOwnedBy(id, tag) {
  for (let i = 0; i < 200; i++) {
    const o = await newOrder(`${tag}-${i}`, i);
    if (o.node === id) {
      return o;
    }
  }
  throw new Error(`200 users gave node ${id} no order`);
}

/** A new tab on `node`'s console, logged in as OPERATOR at `hash` (lib/browser.mjs). */
const openConsole = (node, hash, view = {}) =>
  openConsoleAt(browser, node.url, hash, { token: TOKEN, operator: OPERATOR, wait: WAIT, ...view });

/** The Cluster page's row of node `id` (its first cell is the id, "(this node)" on self). */
const nodeRow = (page, id) =>
  page.getByTestId('cluster-node').filter({ has: page.locator('td:first-child', { hasText: new RegExp(`^\\s*${id}\\s*(\\(this node\\))?\\s*$`) }) });

/** The partition map's cells as the page shows them: the owner of each, by index. */
const shownMap = (page) =>
  page
    .getByTestId('partition-map')
    .locator('.cell')
    .evaluateAll((cells) => cells.map((el) => /^partition (\d+): (\S+)/.exec(el.title)).map((m) => m && { i: Number(m[1]), node: m[2] }));

async function noErrorBanner(page) {
  assert.equal(await page.getByTestId('error-banner').count(), 0, 'no error banner');
}

/** The page's node selector says it shows node `id`, and the selector is set to it. */
async function showing(page, id) {
  await page.getByTestId('node-shown').filter({ hasText: new RegExp(`^showing node ${id}\\b`) }).waitFor();
  await page.locator(`[data-testid=node-pick][data-node="${id}"]`).waitFor();
  assert.equal(await page.getByTestId('node-select').inputValue(), id, `the selector is set to ${id}`);
}

/** Chooses node `id` in the page's node selector; resolves once the route and the page follow. */
async function choose(page, id, hash) {
  await page.getByTestId('node-select').selectOption(id);
  await page.waitForURL((u) => u.hash === hash);
  await showing(page, id);
}

/** Node `node`'s dead letters (its own API) whose body mentions `text`. */
async function deadLettersOn(node, text) {
  const r = await admin(node, 'GET', '/v1/admin/outbox?state=dead&limit=1000');
  return r.messages.filter((m) => JSON.stringify(m.body).includes(text));
}

/** Node `node`'s operator trail (its own API). */
async function trailOf(node) {
  return (await admin(node, 'GET', '/v1/admin/operator-log?limit=1000')).entries;
}

/** What node `from` has forwarded to node `to` ({requests, messages, failed}). */
async function forwarded(from, to) {
  const cl = await admin(from, 'GET', '/v1/admin/cluster');
  return cl.peers.find((p) => p.id === to.id).forwarded;
}

// --- tests -----------------------------------------------------------------

test('cluster page on a: three nodes all reachable, 16 partitions owned by a, b and c, the owner of an order of c', async () => {
  const api = await admin(a, 'GET', '/v1/admin/cluster');
  const { page, close } = await openConsole(a, '/cluster');
  await page.getByTestId('cluster-self').filter({ hasText: /^a$/ }).waitFor();
  for (const id of IDS) {
    await nodeRow(page, id).getByText('REACHABLE', { exact: true }).waitFor();
  }
  assert.equal(await page.getByTestId('cluster-node').count(), 3, 'three nodes listed');
  assert.equal(await page.getByTestId('cluster-node').getByText('UNREACHABLE').count(), 0, 'none unreachable');
  await page.getByTestId('cluster-peers').locator('tbody tr').nth(1).waitFor();
  assert.equal(await page.getByTestId('cluster-peers').getByText('UNREACHABLE').count(), 0, 'both peers reachable');

  const cells = await shownMap(page);
  assert.equal(cells.length, PARTITIONS, `${PARTITIONS} cells`);
  assert.deepEqual(
    cells.map((x) => x.node),
    api.partition_map,
    'each cell names the owner the API reports',
  );
  assert.deepEqual(cells.map((x) => x.i), [...Array(PARTITIONS).keys()], 'cells in partition order');
  assert.deepEqual([...new Set(cells.map((x) => x.node))].sort(), IDS, 'a, b and c each own partitions');
  assert.equal(await page.getByTestId('partition-map').locator('.cell.down').count(), 0, 'no partition marked down');

  const ofC = owned.c[0];
  await page.getByTestId('owner-order-id').fill(ofC.order_id);
  await page.getByTestId('owner-go').click();
  const result = page.getByTestId('owner-result');
  await result.filter({ hasText: ofC.order_id }).waitFor();
  assert.match(await result.textContent(), new RegExp(`partition ${ofC.partition}, owned by node c\\.`));
  assert.equal(api.partition_map[ofC.partition], 'c');
  const picked = page.getByTestId('partition-map').locator('.cell.picked');
  assert.equal(await picked.count(), 1, 'the order\'s partition is picked out in the map');
  assert.equal(await picked.getAttribute('title'), `partition ${ofC.partition}: c`);
  await noErrorBanner(page);
  await shot(page, 'cluster-3');
  await close();
});

test('order page on a: an order owned by c is forwarded, shown, and its timeline shows a cancel made through b', async () => {
  const ofC = owned.c[0];
  const before = await forwarded(a, c);
  const { page, close } = await openConsole(a, `/order/${ofC.order_id}`);
  await page.getByTestId('order-id').filter({ hasText: ofC.order_id }).waitFor();
  await page.getByTestId('order-status').filter({ hasText: 'PENDING_PAYMENT' }).waitFor();
  await page.locator('[data-testid=timeline-entry][data-event=created]').waitFor();
  await page.getByTestId('timers').getByText('wake').waitFor(); // the order's one timer
  assert.equal(await page.getByTestId('order-items').locator('tbody tr').count(), 2, 'both items');
  const after1 = await forwarded(a, c);
  assert.ok(after1.requests >= before.requests + 4, `a forwarded the page's requests to c (${before.requests} -> ${after1.requests})`);
  const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);

  const cancelled = await admin(b, 'POST', `/v1/orders/${ofC.order_id}/cancel`, { reason: 'cancelled through b' });
  assert.equal(cancelled.status, 'CANCELLED');
  const entry = page.locator('[data-testid=timeline-entry][data-event=cancelled]');
  await entry.waitFor();
  assert.match(await entry.textContent(), /cancelled through b/, 'the cancel shows with its cause');
  await page.getByTestId('order-status').filter({ hasText: 'CANCELLED' }).waitFor();
  assert.equal(await page.getByTestId('order-cancel-reason').textContent(), 'cancelled through b');
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), loads, 'no reload');
  await noErrorBanner(page);
  await shot(page, 'order-forwarded');

  // The user's list lives in the same partition (c) and is forwarded too.
  await page.getByTestId('lookup-user-id').fill(ofC.user_id);
  await page.getByTestId('lookup-user-go').click();
  const row = page.getByTestId('user-order-row').filter({ hasText: ofC.order_id });
  await row.getByText('CANCELLED', { exact: true }).waitFor();
  await noErrorBanner(page);
  await close();
});

test('actors page on a: the actor of an order owned by c (forwarded) exists, with the cancel in its journal', async () => {
  const ofC = owned.c[0];
  const { page, close } = await openConsole(a, `/actors/order/${ofC.order_id}`);
  await page.getByTestId('actor-exists').filter({ hasText: /^true$/ }).waitFor();
  await page.locator('[data-testid=timeline-entry][data-event=cancelled]').waitFor();
  assert.ok(Number(await page.getByTestId('actor-version').textContent()) >= 2, 'created and cancelled');
  await page.getByTestId('actor-state').getByText(ofC.order_id).first().waitFor();
  // A SKU that lives on another node than a, through the same page.
  await page.getByTestId('actor-kind').selectOption('sku');
  await page.getByTestId('actor-id').fill('B');
  await page.getByTestId('actor-go').click();
  await page.getByTestId('actor-version').filter({ hasText: /^[1-9]\d*$/ }).waitFor();
  await page.getByTestId('actor-exists').filter({ hasText: /^true$/ }).waitFor();
  await noErrorBanner(page);
  await close();
});

test('outbox, audit (run now), metrics, faults and API pages render on a cluster node without an error, showing node a', async () => {
  const { page, close } = await openConsole(a, '/outbox');
  await page.getByTestId('outbox-backlog').waitFor();
  await page.getByTestId('destinations').waitFor();
  await page.getByTestId('dead-letters').waitFor();
  await page.getByTestId('operator-log').waitFor();
  await showing(page, 'a');
  assert.deepEqual(
    await page.getByTestId('node-select').locator('option').evaluateAll((os) => os.map((o) => o.value)),
    IDS,
    'the selector offers every node',
  );
  await noErrorBanner(page);

  await page.getByTestId('nav-audit').click();
  await page.getByTestId('audit-run').click();
  await page.getByTestId('notice').filter({ hasText: 'Audit finished' }).waitFor();
  await page.getByTestId('audit-last').waitFor();
  await page.getByTestId('audit-ok').filter({ hasText: 'OK' }).waitFor();
  await showing(page, 'a');
  await noErrorBanner(page);

  await page.getByTestId('nav-metrics').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-http-rps]')?.dataset.points) >= 2);
  assert.ok((await page.getByTestId('chart-http-rps').locator('canvas').count()) > 0, 'uPlot drew a canvas');
  await showing(page, 'a');
  await noErrorBanner(page);

  await page.getByTestId('nav-faults').click();
  await page.getByTestId('fault-point').waitFor();
  await showing(page, 'a');
  assert.equal(new URL(page.url()).hash, '#/faults', 'no ?node= for the node serving the console');
  await page.getByTestId('nav-api').click();
  await page.getByTestId('api-op').first().waitFor();
  await noErrorBanner(page);
  await close();
});

test('outbox page on a, node c chosen: c\'s dead letter and operator trail (not a\'s), Retry acts on c, the route keeps c', async () => {
  // A refund on c that cannot reach the payment provider (payment.call on c
  // fails): a dead letter on c after --external-give-up 2s.
  const order = await orderOwnedBy('c', 'dl');
  await admin(c, 'POST', '/v1/admin/faults', { point: 'payment.call', action: 'error' });
  const txn = `t-dl-${order.order_id}`;
  assert.equal((await payCallback(b, { txn_id: txn, order_id: order.order_id, amount: order.payable, status: 'SUCCESS' })).result, 'captured');
  await admin(a, 'POST', `/v1/orders/${order.order_id}/refund`);
  const [dead] = await until('the refund to become a dead letter on c', () => deadLettersOn(c, order.order_id).then((l) => l.length && l));
  await admin(c, 'DELETE', '/v1/admin/faults/payment.call');
  assert.deepEqual(await deadLettersOn(a, order.order_id), [], 'none on a');
  // An entry in c's operator trail only.
  const carol = `carol-${Date.now()}`;
  await admin(c, 'POST', '/v1/admin/audit', undefined, carol);
  assert.ok(!(await trailOf(a)).some((e) => e.operator === carol), "not in a's trail");

  const { page, close } = await openConsole(a, '/outbox');
  await showing(page, 'a');
  const row = page.locator(`[data-testid=dead-letter][data-seq="${dead.seq}"]`);
  const carolRow = page.getByTestId('operator-log-row').filter({ hasText: carol });
  await page.getByTestId('operator-log').waitFor();
  await page.getByTestId('dead-letters').waitFor();
  assert.equal(await carolRow.count(), 0, "a's trail has no entry of c's");
  assert.equal(await page.getByTestId('dead-letters').getByText(order.order_id).count(), 0, "a's dead letters have none of c's");

  await choose(page, 'c', '#/outbox?node=c');
  await row.waitFor();
  assert.match(await row.textContent(), new RegExp(order.order_id));
  await carolRow.getByText('audit.run', { exact: true }).waitFor();
  assert.ok(Number(await page.getByTestId('outbox-dead-count').textContent()) >= 1, "c's dead letter count");
  await noErrorBanner(page);
  await shot(page, 'outbox-node-c');

  // A reload, and a link, keep node c.
  await page.reload();
  await showing(page, 'c');
  await row.waitFor();
  await page.getByTestId('nav-audit').click();
  await page.waitForURL((u) => u.hash === '#/audit?node=c');
  await showing(page, 'c');
  await page.getByTestId('nav-outbox').click();
  await page.waitForURL((u) => u.hash === '#/outbox?node=c');

  // Retry on c, from a's console: queued again on c and delivered.
  await row.getByTestId('dead-retry').click();
  assert.match(await page.getByTestId('confirm-dialog').textContent(), new RegExp(`Retry dead letter ${dead.seq} on node c\\?`));
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('notice').filter({ hasText: `Dead letter ${dead.seq} on node c was queued again` }).waitFor();
  await row.waitFor({ state: 'detached' });
  await until('the retried refund to be delivered on c', async () => {
    const pending = await admin(c, 'GET', '/v1/admin/outbox?state=pending&limit=1000');
    const refund = (m) => m.to.startsWith('payment') && JSON.stringify(m.body).includes(order.order_id);
    return !pending.messages.some(refund) && (await deadLettersOn(c, order.order_id)).length === 0;
  });
  const retried = (await trailOf(c)).filter((e) => e.action === 'dead_letter.retry');
  assert.ok(retried.some((e) => e.operator === OPERATOR && e.subject === `outbox/${dead.seq}`), `c's trail has the retry: ${JSON.stringify(retried)}`);
  assert.ok(!(await trailOf(a)).some((e) => e.action === 'dead_letter.retry' && e.subject === `outbox/${dead.seq}`), "a's trail has no retry");
  await page.getByTestId('operator-log-row').filter({ hasText: 'dead_letter.retry' }).filter({ hasText: OPERATOR }).first().waitFor();

  // Back to a: c's entries are gone from the page.
  await choose(page, 'a', '#/outbox');
  await page.getByTestId('operator-log').waitFor();
  await page.getByTestId('outbox-backlog').waitFor();
  assert.equal(await carolRow.count(), 0, "a's trail again");
  await noErrorBanner(page);
  await close();

  // A phone: the selector fits.
  const phone = await openConsole(a, '/outbox?node=c', { width: 375, height: 800 });
  await showing(phone.page, 'c');
  await phone.page.getByTestId('operator-log').waitFor();
  const box = await phone.page.getByTestId('node-pick').boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375, `the selector fits a 375 px screen (${JSON.stringify(box)})`);
  assert.ok(await phone.page.getByTestId('node-select').isVisible());
  await shot(phone.page, 'outbox-node-c-375');
  await phone.close();
});

test('audit page on a, node c chosen: Run audit now runs on c, not on a', async () => {
  const lastA = await admin(a, 'GET', '/v1/admin/audit/last');
  const lastC = await admin(c, 'GET', '/v1/admin/audit/last');
  const { page, close } = await openConsole(a, '/audit?node=c');
  await showing(page, 'c');
  await page.getByTestId('audit-run').click();
  await page.getByTestId('notice').filter({ hasText: 'Audit finished on node c' }).waitFor();
  await page.getByTestId('audit-last').waitFor();
  const nowC = await admin(c, 'GET', '/v1/admin/audit/last');
  assert.equal(nowC.trigger, 'request');
  assert.notEqual(nowC.at, lastC.at, 'c ran an audit');
  assert.deepEqual(await admin(a, 'GET', '/v1/admin/audit/last'), lastA, 'a did not');
  assert.ok((await trailOf(c)).some((e) => e.action === 'audit.run' && e.operator === OPERATOR), "in c's trail");
  await noErrorBanner(page);
  await close();
});

test('faults page on a, node b chosen: a fault armed there is armed on b (its own API) and not on a, and cleared from the page', async () => {
  const { page, close } = await openConsole(a, '/faults');
  await showing(page, 'a');
  await choose(page, 'b', '#/faults?node=b');
  await page.getByTestId('faults-armed').filter({ hasText: 'nothing armed' }).waitFor();
  await page.getByTestId('fault-point').selectOption('sms.call');
  await page.getByTestId('fault-action').selectOption('delay');
  await page.getByTestId('fault-delay').fill('250');
  await page.getByTestId('fault-arm').click();
  assert.match(await page.getByTestId('confirm-dialog').textContent(), /Arm delay at sms\.call on node b\?/);
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('notice').filter({ hasText: 'Armed delay at sms.call on node b.' }).waitFor();
  const armed = page.locator('[data-testid=fault-armed][data-point="sms.call"]');
  await armed.waitFor();

  const onB = (await admin(b, 'GET', '/v1/admin/faults')).faults;
  assert.deepEqual(onB.map((f) => [f.point, f.action, f.delay_ms]), [['sms.call', 'delay', 250]], 'armed on b');
  assert.deepEqual((await admin(a, 'GET', '/v1/admin/faults')).faults, [], 'not on a');
  assert.deepEqual((await admin(c, 'GET', '/v1/admin/faults')).faults, [], 'not on c');
  assert.ok((await trailOf(b)).some((e) => e.action === 'fault.arm' && e.subject === 'sms.call' && e.operator === OPERATOR), "in b's trail");
  await noErrorBanner(page);
  await shot(page, 'faults-node-b');

  await armed.getByTestId('fault-clear').click();
  assert.match(await page.getByTestId('confirm-dialog').textContent(), /Clear the fault at sms\.call on node b\?/);
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('notice').filter({ hasText: 'Cleared the fault at sms.call on node b.' }).waitFor();
  await armed.waitFor({ state: 'detached' });
  assert.deepEqual((await admin(b, 'GET', '/v1/admin/faults')).faults, [], 'cleared on b');
  await noErrorBanner(page);
  await close();
});

test('metrics page on a, node b chosen by its route: every scrape asks b', async () => {
  const before = await forwarded(a, b);
  const { page, close } = await openConsole(a, '/metrics?node=b');
  const scrapes = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/metrics') {
      scrapes.push(u.search);
    }
  });
  await showing(page, 'b');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-http-rps]')?.dataset.points) >= 3);
  assert.ok(scrapes.length >= 2, `scrapes seen (${scrapes.length})`);
  assert.deepEqual([...new Set(scrapes)], ['?node=b'], 'every scrape carries node=b');
  const after = await forwarded(a, b);
  assert.ok(after.requests >= before.requests + scrapes.length, `a forwarded them to b (${before.requests} -> ${after.requests})`);
  await page.getByText("Node b's").waitFor();
  await noErrorBanner(page);
  await shot(page, 'metrics-node-b');
  await close();
});

test('node c killed: the cluster page on a shows c unreachable, and an order of c shows the 503 in the banner', async () => {
  await c.kill();
  await until('a to see c unreachable', async () => {
    const cl = await admin(a, 'GET', '/v1/admin/cluster');
    return cl.peers.some((p) => p.id === 'c' && !p.reachable);
  });

  const { page, close } = await openConsole(a, '/cluster');
  await nodeRow(page, 'c').getByText('UNREACHABLE', { exact: true }).waitFor();
  for (const id of ['a', 'b']) {
    await nodeRow(page, id).getByText('REACHABLE', { exact: true }).waitFor();
  }
  const cells = await shownMap(page);
  const ofC = cells.filter((x) => x.node === 'c').length;
  assert.ok(ofC > 0);
  assert.equal(await page.getByTestId('partition-map').locator('.cell.down').count(), ofC, "c's partitions are marked down");
  await noErrorBanner(page);
  await shot(page, 'cluster-3-down');

  const order = owned.c[0];
  await page.getByTestId('nav-order').click();
  await page.getByTestId('lookup-order-id').fill(order.order_id);
  await page.getByTestId('lookup-order-go').click();
  const banner = page.getByTestId('error-banner');
  await banner.filter({ hasText: 'unavailable' }).waitFor();
  const text = await banner.textContent();
  assert.match(text, /\(503\)/, 'the status');
  assert.match(text, /node c\b.*unreachable/, "the API's message");
  await page.getByText(`Order ${order.order_id} could not be loaded.`).waitFor();
  assert.equal(await page.getByTestId('order-view').count(), 0, 'no half-drawn order');
  assert.ok(await page.getByTestId('nav').isVisible(), 'the console itself still works');

  // An order of a still opens on a while c is down.
  await page.getByTestId('lookup-order-id').fill(owned.a[0].order_id);
  await page.getByTestId('lookup-order-go').click();
  await page.getByTestId('order-status').filter({ hasText: 'PENDING_PAYMENT' }).waitFor();

  // The outbox of c: the 503 in the banner, c marked unreachable in the selector.
  await page.getByTestId('nav-outbox').click();
  await choose(page, 'c', '#/outbox?node=c');
  await page.getByTestId('error-banner').filter({ hasText: 'unavailable' }).filter({ hasText: '(503)' }).waitFor();
  await page.getByTestId('node-select').locator('option[value=c]').filter({ hasText: 'unreachable' }).waitFor({ state: 'attached' });
  await close();
});
