// Browser tests of the operator console: headless Debian
// Chromium driven by playwright-core against a real `ordo serve` on
// loopback, with a separate `ordo sandbox-provider` as its payment provider
// so a test can take the provider down. Screenshots of each page go to
// --shots DIR.
//
//   node console/tests/browser.test.mjs [--ordo build/ordo] [--shots build/console-shots]
//        [--console-dir DIR] [--chromium /usr/bin/chromium]
//
// --console-dir serves that built console instead of the one embedded in
// the binary. Waits are Playwright's auto-waiting locators or polls of the
// API, each with a timeout; nothing sleeps for a fixed time.

import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { call, must, payCallback, startOrdo, startProvider, until } from './lib/ordo.mjs';
import { launchChromium, login, openConsole as openConsoleAt, options, shot } from './lib/browser.mjs';

const { ordo: ORDO, shots: SHOTS, consoleDir: CONSOLE_DIR } = options;
const TOKEN = 'console-test-token';
const SECRET = 'console-test-secret';
const OPERATOR = 'alice';
const WAIT = 20000;

let provider;
let node;
let browser;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  provider = await startProvider(ORDO);
  const args = [
    '--payment-provider',
    provider.url,
    '--rate-limit',
    'off',
    '--captcha-after',
    '0',
    '--audit-interval',
    '0',
    '--notify-delay',
    '2s',
    '--external-give-up',
    '2s',
  ];
  if (CONSOLE_DIR) {
    args.push('--console-dir', CONSOLE_DIR);
  }
  node = await startOrdo(ORDO, { token: TOKEN, secret: SECRET, args });
  await must(node.url, 'PUT', '/v1/skus/A', { token: TOKEN, body: { price: 1999, stock: 1000 } });
  await must(node.url, 'PUT', '/v1/skus/S', { token: TOKEN, body: { price: 5000, stock: 100, kind: 'service' } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await node?.stop();
  await provider?.stop();
});

// --- helpers ---------------------------------------------------------------

let keys = 0;

/** Creates an order for `user` through the API; resolves to the order. */
function createOrder(user, items = [{ sku: 'A', quantity: 1 }]) {
  return must(node.url, 'POST', '/v1/orders', {
    headers: { 'Idempotency-Key': `console-${++keys}` },
    body: { user_id: user, items },
  });
}

const admin = (method, path, body) => must(node.url, method, path, { token: TOKEN, body });

/** A new tab on the node's console, logged in as OPERATOR at `hash` (lib/browser.mjs). */
const openConsole = (hash, view = {}) =>
  openConsoleAt(browser, node.url, hash, { token: TOKEN, operator: OPERATOR, wait: WAIT, ...view });

/** Clicks the confirm button of the in-page confirmation dialog and waits for it to close. */
async function confirm(page) {
  const dialog = page.getByTestId('confirm-dialog');
  await dialog.waitFor();
  await dialog.getByTestId('confirm-ok').click();
  await dialog.waitFor({ state: 'detached' });
}

/** The dead letters whose body mentions `text`. */
async function deadLettersAbout(text) {
  const r = await admin('GET', '/v1/admin/outbox?state=dead&limit=100');
  return r.messages.filter((m) => JSON.stringify(m.body).includes(text));
}

// --- tests -----------------------------------------------------------------

test('login: a wrong token is refused, the right one opens the console, logout forgets it', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  await page.goto(`${node.url}/console`);
  await login(page, OPERATOR, 'not-the-token');
  await page.getByTestId('login-error').filter({ hasText: 'refused' }).waitFor();
  assert.equal(await page.getByTestId('login-form').isVisible(), true, 'still on the login form');
  assert.equal(await page.getByTestId('nav').count(), 0, 'no navigation without a valid token');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ordo.token')), null, 'a refused token is not kept');
  await shot(page, 'login');

  await login(page, OPERATOR, TOKEN);
  await page.getByTestId('nav').waitFor();
  assert.equal(await page.getByTestId('operator-name').textContent(), OPERATOR);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ordo.token')), TOKEN, 'token in session storage');
  assert.equal((await context.cookies()).length, 0, 'no cookies');
  assert.ok(!page.url().includes(TOKEN), 'token not in the URL');

  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('ordo.token')), null, 'logout forgets the token');

  // A token the server stops accepting (here: replaced in storage) sends the tab back to the login form.
  await login(page, OPERATOR, TOKEN);
  await page.getByTestId('nav-cluster').click();
  await page.getByTestId('cluster-node').first().waitFor();
  await page.evaluate(() => sessionStorage.setItem('ordo.token', 'revoked'));
  await page.getByTestId('login-error').filter({ hasText: 'refused' }).waitFor();
  assert.equal(await page.getByTestId('nav').count(), 0);
  await context.close();
});

test('errors from the API show in a banner', async () => {
  const { page, close } = await openConsole('/order/no-such-order');
  const banner = page.getByTestId('error-banner');
  await banner.filter({ hasText: 'not_found' }).waitFor();
  assert.match(await banner.textContent(), /404/);
  await close();
});

test('order page: the timeline shows a cancel made through the API without a reload', async () => {
  const order = await createOrder('u-timeline');
  const { page, close } = await openConsole(`/order/${order.order_id}`);
  await page.locator('[data-testid=timeline-entry][data-event=created]').waitFor();
  await page.getByTestId('order-status').filter({ hasText: 'PENDING_PAYMENT' }).waitFor();
  await page.getByTestId('timers').getByText('wake').waitFor(); // the order's one timer
  const loads = await page.evaluate(() => performance.getEntriesByType('navigation').length);

  await admin('POST', `/v1/orders/${order.order_id}/cancel`, { reason: 'changed my mind' });
  const cancelled = page.locator('[data-testid=timeline-entry][data-event=cancelled]');
  await cancelled.waitFor();
  assert.match(await cancelled.textContent(), /changed my mind/, 'the cancel shows with its cause');
  await page.getByTestId('order-status').filter({ hasText: 'CANCELLED' }).waitFor();
  assert.equal(await page.getByTestId('order-cancel-reason').textContent(), 'changed my mind');
  assert.equal(await page.evaluate(() => performance.getEntriesByType('navigation').length), loads, 'no reload');
  await shot(page, 'order');
  await close();
});

test('order page: cancel from the page, then a payment that arrives after the cancel is shown as REFUNDED', async () => {
  const order = await createOrder('u-late-pay');
  const { page, close } = await openConsole(`/order/${order.order_id}`);
  await page.getByTestId('order-cancel').click();
  await page.getByTestId('cancel-reason').fill('out of stock at the till');
  await confirm(page);
  await page.getByTestId('order-status').filter({ hasText: 'CANCELLED' }).waitFor();
  assert.equal((await admin('GET', `/v1/orders/${order.order_id}`)).cancel_reason, 'out of stock at the till');

  const txn = `t-late-${order.order_id}`;
  const paid = await payCallback(node, { txn_id: txn, order_id: order.order_id, amount: order.payable, status: 'SUCCESS' });
  assert.equal(paid.result, 'refunded');
  const row = page.getByTestId('payments').getByTestId('payment-row').filter({ hasText: txn });
  await row.getByTestId('payment-status').filter({ hasText: /^REFUNDED$/ }).waitFor();
  await shot(page, 'order-refunded');
  await close();
});

test('outbox page: a refund becomes a dead letter while the provider is down and clears after Retry', async () => {
  const order = await createOrder('u-dead');
  const txn = `t-dead-${order.order_id}`;
  assert.equal((await payCallback(node, { txn_id: txn, order_id: order.order_id, amount: order.payable, status: 'SUCCESS' })).result, 'captured');
  await provider.kill();
  await admin('POST', `/v1/orders/${order.order_id}/refund`);
  const [dead] = await until('the refund to become a dead letter', () => deadLettersAbout(txn).then((l) => l.length && l));

  const { page, close } = await openConsole('/outbox');
  const row = page.locator(`[data-testid=dead-letter][data-seq="${dead.seq}"]`);
  await row.waitFor();
  await shot(page, 'outbox');

  provider = await startProvider(ORDO, provider.port);
  await row.getByTestId('dead-retry').click();
  await confirm(page);
  await page.getByTestId('notice').filter({ hasText: `Dead letter ${dead.seq}` }).waitFor();
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('operator-log-row').filter({ hasText: 'dead_letter.retry' }).filter({ hasText: OPERATOR }).first().waitFor();
  await until('the retried refund to be delivered', async () => {
    const o = await admin('GET', `/v1/orders/${order.order_id}`);
    return o.payments.some((p) => p.txn_id === txn && p.status === 'REFUNDED');
  });
  assert.deepEqual(await deadLettersAbout(txn), [], 'no dead letter left for the refund');
  await shot(page, 'outbox-retried');
  await close();
});

test('audit page: a fault at payment.call makes a dead letter, and Run audit now reports it; Discard clears it', async () => {
  await admin('POST', '/v1/admin/faults', { point: 'payment.call', action: 'error' });
  const order = await createOrder('u-audit');
  await admin('POST', `/v1/orders/${order.order_id}/cancel`);
  const txn = `t-audit-${order.order_id}`;
  await payCallback(node, { txn_id: txn, order_id: order.order_id, amount: order.payable, status: 'SUCCESS' });
  const [dead] = await until('the refund to become a dead letter', () => deadLettersAbout(txn).then((l) => l.length && l));
  await admin('DELETE', '/v1/admin/faults/payment.call');

  const { page, close } = await openConsole('/audit');
  await page.getByTestId('audit-run').click();
  const finding = page.getByTestId('audit-violations').locator('[data-testid=finding][data-rule=dead_letters]');
  await finding.waitFor();
  assert.equal(await finding.getByRole('link', { name: 'outbox' }).getAttribute('href'), '#/outbox');
  await page.getByTestId('audit-ok').filter({ hasText: 'VIOLATIONS' }).waitFor();
  await shot(page, 'audit');

  await page.getByTestId('nav-outbox').click();
  const row = page.locator(`[data-testid=dead-letter][data-seq="${dead.seq}"]`);
  await row.getByTestId('dead-discard').click();
  await confirm(page);
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('operator-log-row').filter({ hasText: 'dead_letter.discard' }).first().waitFor();
  assert.deepEqual(await deadLettersAbout(txn), []);
  await close();
});

test('metrics page: the requests/s chart moves under a short burst of requests', async () => {
  const { page, close } = await openConsole('/metrics');
  const chart = page.getByTestId('chart-http-rps');
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-http-rps]')?.dataset.points) >= 2);
  assert.equal(await chart.locator('canvas').count() > 0, true, 'uPlot drew a canvas');

  const burst = [];
  for (let i = 0; i < 300; i++) {
    burst.push(call(node.url, 'GET', '/healthz'));
  }
  await Promise.all(burst);
  await chart.locator('[data-testid=latest][data-series="GET /healthz"]').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=chart-http-rps]').dataset.max) >= 50);
  await page.getByTestId('chart-http-p99').locator('[data-testid=latest][data-series="GET /healthz"]').waitFor();
  await shot(page, 'metrics');
  await close();
});

test('actors page: a SKU is shown with its state, journal and version', async () => {
  const { page, close } = await openConsole('/actors/sku/A');
  await page.getByTestId('actor-exists').filter({ hasText: 'true' }).waitFor();
  await page.getByTestId('actor-state').getByText('price').waitFor();
  await page.locator('[data-testid=timeline-entry][data-event=put]').first().waitFor();
  assert.ok(Number(await page.getByTestId('actor-version').textContent()) >= 1);
  await shot(page, 'actors');
  await close();
});

test('cluster page: the node, its reachability and the partition map', async () => {
  const cluster = await admin('GET', '/v1/admin/cluster');
  const { page, close } = await openConsole('/cluster');
  await page.getByTestId('cluster-node').filter({ hasText: cluster.node_id }).getByText('REACHABLE').waitFor();
  assert.equal(await page.getByTestId('partition-map').locator('.cell').count(), cluster.partitions);
  await shot(page, 'cluster');
  await close();
});

test('cluster page: which node owns an order id', async () => {
  const order = await createOrder('u-owner');
  const probe = await admin('GET', `/v1/admin/cluster?order_id=${order.order_id}`);
  const { page, close } = await openConsole('/cluster');
  await page.getByTestId('owner-order-id').fill(order.order_id);
  await page.getByTestId('owner-go').click();
  const result = page.getByTestId('owner-result');
  await result.filter({ hasText: probe.owner.node }).waitFor();
  assert.match(await result.textContent(), new RegExp(`partition ${probe.owner.partition}\\b`));
  await close();
});

test('faults page: arm a fault with a confirmation, see it armed, clear it', async () => {
  const { page, close } = await openConsole('/faults');
  await page.getByTestId('fault-point').selectOption('relay.deliver');
  await page.getByTestId('fault-action').selectOption('delay');
  await page.getByTestId('fault-delay').fill('20');
  await page.getByTestId('fault-arm').click();
  await confirm(page);
  const armed = page.locator('[data-testid=fault-armed][data-point="relay.deliver"]');
  await armed.waitFor();
  const listed = await admin('GET', '/v1/admin/faults');
  assert.deepEqual(
    listed.faults.map((f) => [f.point, f.action, f.delay_ms]),
    [['relay.deliver', 'delay', 20]],
  );
  await shot(page, 'faults');

  await armed.getByTestId('fault-clear').click();
  await confirm(page);
  await armed.waitFor({ state: 'detached' });
  assert.deepEqual((await admin('GET', '/v1/admin/faults')).faults, []);
  await close();
});

test('faults page on a single node: ?node= naming another node shows the API\'s 404, choosing this node goes back', async () => {
  const self = (await admin('GET', '/v1/admin/cluster')).node_id;
  const { page, close } = await openConsole('/faults?node=elsewhere');
  const pick = page.locator('[data-testid=node-pick][data-node=elsewhere]');
  await pick.getByText('showing node elsewhere').waitFor();
  await pick.locator('option[value=elsewhere]').filter({ hasText: 'not in this cluster' }).waitFor({ state: 'attached' });
  const banner = page.getByTestId('error-banner');
  await banner.filter({ hasText: 'not_found' }).waitFor();
  assert.match(await banner.textContent(), /\(404\): no node elsewhere in /);
  assert.equal(await page.getByTestId('fault-form').count(), 0, 'nothing of another node is drawn');

  await page.getByTestId('node-select').selectOption(self);
  await page.waitForURL((u) => u.hash === '#/faults');
  await page.getByTestId('fault-form').waitFor();
  await page.getByTestId('node-pick').waitFor({ state: 'detached' });
  await close();
});

test('API page: the OpenAPI document as operations grouped by tag', async () => {
  const doc = await must(node.url, 'GET', '/v1/openapi.json');
  const { page, close } = await openConsole('/api');
  const ops = page.getByTestId('api-op');
  await ops.first().waitFor();
  const count = Object.values(doc.paths).reduce((n, item) => n + ['get', 'put', 'post', 'delete', 'patch'].filter((m) => item[m]).length, 0);
  assert.equal(await ops.count(), count, 'every operation is listed');
  const create = page.locator('[data-testid=api-op][data-method=post][data-path="/v1/orders"]');
  await create.locator('summary').click();
  await create.getByText('Responses').waitFor();
  await create.getByText('201', { exact: true }).waitFor();
  await shot(page, 'api');
  await close();
});

test('order page: a split order fits a 375px-wide screen', async () => {
  const order = await createOrder('u-phone', [
    { sku: 'A', quantity: 2 },
    { sku: 'S', quantity: 1 },
  ]);
  const { page, close } = await openConsole(`/order/${order.order_id}`, { width: 375, height: 800 });
  await page.getByTestId('children').getByTestId('child-row').nth(1).waitFor();
  await page.locator('[data-testid=timeline-entry][data-event=created]').waitFor();
  const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, view: innerWidth }));
  assert.ok(widths.page <= widths.view, `no horizontal overflow (${widths.page} > ${widths.view})`);
  await shot(page, 'order-375');
  await close();
});
