// Order page: look an order up by id (#/order/ID) or a user's orders by user
// id (#/user/ID); the order as the API shows it, with its payments, journal
// timeline, timers, outbox, notifications, dispatches and split children,
// refreshed every 2 s; cancel, complete and refund after a confirmation.

import { useRef, useState } from 'preact/hooks';
import { get, path, post } from '../api.js';
import { duration, money, time } from '../format.js';
import { Badge, Field, Subject, Table, actorHref, notice, orderHref, useConfirm, useNow, usePoll } from '../ui.jsx';

const REFRESH_MS = 2000;

export function OrderPage({ page, args }) {
  const id = args[0] || '';
  return (
    <section>
      <h2>Order</h2>
      <Lookup key={`${page}/${id}`} orderId={page === 'order' ? id : ''} userId={page === 'user' ? id : ''} />
      {page === 'order' && id && <OrderView id={id} />}
      {page === 'user' && id && <UserOrders userId={id} />}
    </section>
  );
}

function Lookup({ orderId, userId }) {
  const [order, setOrder] = useState(orderId);
  const [user, setUser] = useState(userId);
  const go = (e, where, value) => {
    e.preventDefault();
    if (value.trim()) {
      location.hash = `#/${where}/${encodeURIComponent(value.trim())}`;
    }
  };
  return (
    <div class="lookups">
      <form class="inline" onSubmit={(e) => go(e, 'order', order)}>
        <label>
          Order id
          <input class="id" data-testid="lookup-order-id" value={order} onInput={(e) => setOrder(e.target.value)} placeholder="o0033-…" />
        </label>
        <button type="submit" data-testid="lookup-order-go">
          Open
        </button>
      </form>
      <form class="inline" onSubmit={(e) => go(e, 'user', user)}>
        <label>
          User id
          <input class="id" data-testid="lookup-user-id" value={user} onInput={(e) => setUser(e.target.value)} placeholder="u1" />
        </label>
        <button type="submit" data-testid="lookup-user-go">
          List orders
        </button>
      </form>
    </div>
  );
}

function UserOrders({ userId }) {
  const { data } = usePoll(() => get(`${path`/v1/users/${userId}/orders`}?limit=20`), REFRESH_MS, [userId]);
  return (
    <div class="card">
      <h3>Orders of user {userId}</h3>
      {data && (
        <Table head={['order', 'status', 'payable', 'created']} testid="user-orders" empty="no orders">
          {data.orders.map((o) => (
            <tr key={o.order_id} data-testid="user-order-row">
              <td>
                <a href={orderHref(o.order_id)}>{o.order_id}</a>
              </td>
              <td>
                <Badge value={o.status} />
              </td>
              <td class="num">{money(o.payable)}</td>
              <td>{time(o.created_at)}</td>
            </tr>
          ))}
        </Table>
      )}
    </div>
  );
}

async function loadOrder(id) {
  const q = `?order_id=${encodeURIComponent(id)}`;
  const [order, actor, notifications, dispatches] = await Promise.all([
    get(path`/v1/orders/${id}`),
    get(path`/v1/admin/actors/order/${id}`),
    get(`/v1/notifications${q}`),
    get(`/v1/dispatches${q}`),
  ]);
  return { order, actor, notifications: notifications.notifications, dispatches: dispatches.dispatches };
}

function OrderView({ id }) {
  const { data, error, reload } = usePoll(() => loadOrder(id), REFRESH_MS, [id]);
  if (!data) {
    return <p class="muted">{error ? `Order ${id} could not be loaded.` : `Loading order ${id}…`}</p>;
  }
  const { order, actor, notifications, dispatches } = data;
  return (
    <div data-testid="order-view">
      <OrderHeader order={order} actor={actor} reload={reload} />
      <Summary order={order} />
      <div class="card">
        <h3>Items</h3>
        <Table head={['sku', 'kind', 'quantity', 'unit price', 'total']} testid="order-items">
          {order.items.map((it) => (
            <tr key={it.sku}>
              <td>
                <a href={actorHref('sku', it.sku)}>{it.sku}</a>
              </td>
              <td>{it.kind}</td>
              <td class="num">{it.quantity}</td>
              <td class="num">{money(it.unit_price)}</td>
              <td class="num">{money(it.unit_price * it.quantity)}</td>
            </tr>
          ))}
        </Table>
      </div>
      <Payments payments={order.payments} />
      {(order.children.length > 0 || order.saga || order.manual_reason) && <Children order={order} />}
      <Timeline journal={actor.journal} />
      <Timers timers={actor.timers} />
      <Outbox outbox={actor.outbox} />
      <Notifications list={notifications} />
      <Dispatches list={dispatches} />
    </div>
  );
}

function OrderHeader({ order, actor, reload }) {
  const [dialog, ask] = useConfirm();
  const reason = useRef(null);
  const act = (verb, body) => async () => {
    const o = await post(path`/v1/orders/${order.order_id}/${verb}`, body);
    notice(`Order ${o.order_id} is now ${o.status}.`);
    reload();
  };
  const st = order.status;
  return (
    <div class="card order-head">
      <div class="title-row">
        <h3 data-testid="order-id">{order.order_id}</h3>
        <Badge value={st} testid="order-status" />
        <span class="muted small">
          version {order.version} · actor {actor.active ? 'in memory' : 'passivated'}
          {actor.mailbox_size !== null && ` · mailbox ${actor.mailbox_size}`} ·{' '}
          <a href={actorHref('order', order.order_id)}>inspect actor</a>
        </span>
      </div>
      <div class="buttons">
        <button
          type="button"
          data-testid="order-cancel"
          class="danger"
          disabled={st !== 'PENDING_PAYMENT'}
          onClick={() =>
            ask({
              title: `Cancel order ${order.order_id}?`,
              body: (
                <label>
                  Reason (empty: "user")
                  <input ref={reason} data-testid="cancel-reason" maxLength={256} />
                </label>
              ),
              label: 'Cancel order',
              danger: true,
              run: () => act('cancel', reason.current.value ? { reason: reason.current.value } : undefined)(),
            })
          }
        >
          Cancel…
        </button>
        <button
          type="button"
          data-testid="order-complete"
          disabled={st !== 'PAID' && st !== 'DISPATCHED'}
          onClick={() =>
            ask({ title: `Complete order ${order.order_id}?`, body: 'The order becomes COMPLETED.', label: 'Complete', run: act('complete') })
          }
        >
          Complete…
        </button>
        <button
          type="button"
          data-testid="order-refund"
          class="danger"
          disabled={!['PAID', 'DISPATCHED', 'COMPLETED'].includes(st)}
          onClick={() =>
            ask({
              title: `Refund order ${order.order_id}?`,
              body: `Its payment of ${money(order.payable)} is refunded through the payment provider.`,
              label: 'Refund',
              danger: true,
              run: act('refund'),
            })
          }
        >
          Refund…
        </button>
      </div>
      {dialog}
    </div>
  );
}

function Summary({ order }) {
  const now = useNow();
  const deadline = order.pay_deadline ? Date.parse(order.pay_deadline) - now : null;
  return (
    <div class="card grid-fields" data-testid="order-summary">
      <Field label="user">
        <a href={`#/user/${encodeURIComponent(order.user_id)}`}>{order.user_id}</a>
      </Field>
      <Field label="amount" testid="order-amount">{money(order.amount)}</Field>
      <Field label="discount">{money(order.discount)}</Field>
      <Field label="payable" testid="order-payable">{money(order.payable)}</Field>
      <Field label="coupon">{order.coupon_id ? <a href={actorHref('coupon', order.coupon_id)}>{order.coupon_id}</a> : '—'}</Field>
      <Field label="affiliate">
        {order.affiliate_id ? <a href={actorHref('affiliate', order.affiliate_id)}>{order.affiliate_id}</a> : '—'}
      </Field>
      <Field label="created">{time(order.created_at)}</Field>
      <Field label="updated">{time(order.updated_at)}</Field>
      <Field label="pay deadline">
        {time(order.pay_deadline)}
        {order.status === 'PENDING_PAYMENT' && deadline !== null && (
          <span class="muted"> ({deadline >= 0 ? `in ${duration(deadline)}` : `${duration(-deadline)} ago`})</span>
        )}
      </Field>
      <Field label="cancel reason" testid="order-cancel-reason">{order.cancel_reason ?? '—'}</Field>
      {order.parent_id && (
        <Field label="parent">
          <a href={orderHref(order.parent_id)}>{order.parent_id}</a>
        </Field>
      )}
      {order.technician && <Field label="technician">{order.technician}</Field>}
    </div>
  );
}

function Payments({ payments }) {
  return (
    <div class="card">
      <h3>Payments</h3>
      <Table head={['txn', 'amount', 'status']} testid="payments" empty="no payments">
        {payments.map((p) => (
          <tr key={p.txn_id} data-testid="payment-row">
            <td>{p.txn_id}</td>
            <td class="num">{money(p.amount)}</td>
            <td>
              <Badge value={p.status} testid="payment-status" />
            </td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function Children({ order }) {
  const children = order.child_orders ?? [];
  return (
    <div class="card" data-testid="children">
      <h3>Split order</h3>
      {order.saga && (
        <p class="warn" data-testid="saga">
          Saga in progress: {order.saga.op}
          {order.saga.reason && ` (reason: ${order.saga.reason})`} — waiting for the children to answer.
        </p>
      )}
      {order.manual_reason && (
        <p class="alert" data-testid="manual-reason">
          Needs manual intervention: {order.manual_reason}
        </p>
      )}
      <Table head={['child', 'kind', 'payable', 'status (as the parent last heard)']}>
        {children.map((c) => (
          <tr key={c.order_id} data-testid="child-row">
            <td>
              <a href={orderHref(c.order_id)}>{c.order_id}</a>
            </td>
            <td>{c.kind}</td>
            <td class="num">{money(c.payable)}</td>
            <td>
              <Badge value={c.status} />
            </td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

export function Timeline({ journal }) {
  return (
    <div class="card">
      <h3>Timeline</h3>
      {journal.length === 0 ? (
        <p class="muted">no journal entries</p>
      ) : (
        <ol class="timeline" data-testid="timeline">
          {journal.map((t) => (
            <li key={t.version} data-testid="timeline-entry" data-event={t.event}>
              <div class="when">
                <span class="version">v{t.version}</span> {time(t.at)}
              </div>
              <div>
                <Badge value={t.event} /> <span class="cause">{t.cause}</span>
              </div>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export function Timers({ timers }) {
  const now = useNow();
  return (
    <div class="card">
      <h3>Pending timers</h3>
      <Table head={['timer', 'due', 'in']} testid="timers" empty="no pending timers">
        {timers.map((t) => {
          const left = Date.parse(t.due_at) - now;
          return (
            <tr key={t.name}>
              <td>{t.name}</td>
              <td>{time(t.due_at)}</td>
              <td class="num" data-testid="timer-countdown">
                {left >= 0 ? duration(left) : <span class="warn">overdue {duration(-left)}</span>}
              </td>
            </tr>
          );
        })}
      </Table>
    </div>
  );
}

export function Outbox({ outbox }) {
  return (
    <div class="card">
      <h3>Undelivered outbox</h3>
      <Table head={['seq', 'id', 'to', 'type', 'attempts', 'last error']} testid="actor-outbox" empty="nothing waiting">
        {outbox.map((m) => (
          <tr key={m.id}>
            <td class="num">{m.seq ?? '—'}</td>
            <td>{m.id}</td>
            <td>
              <Subject value={m.to} />
            </td>
            <td>{m.type}</td>
            <td class="num">{m.attempts}</td>
            <td class="error-text">{m.last_error ?? ''}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function Notifications({ list }) {
  return (
    <div class="card">
      <h3>Notifications</h3>
      <Table head={['notification', 'template', 'status', 'created', 'sent']} testid="notifications" empty="none">
        {list.map((n) => (
          <tr key={n.notification_id}>
            <td>{n.notification_id}</td>
            <td>{n.template}</td>
            <td>
              <Badge value={n.status} />
            </td>
            <td>{time(n.created_at)}</td>
            <td>{time(n.sent_at)}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function Dispatches({ list }) {
  return (
    <div class="card">
      <h3>Dispatches</h3>
      <Table head={['dispatch', 'technician', 'status', 'paid at']} testid="dispatches" empty="none">
        {list.map((d) => (
          <tr key={d.dispatch_id}>
            <td>{d.dispatch_id}</td>
            <td>{d.technician ?? '—'}</td>
            <td>
              <Badge value={d.status} />
            </td>
            <td>{time(d.paid_at)}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}
