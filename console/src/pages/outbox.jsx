// Outbox page (#/outbox): what the relay still holds, per destination and
// message, and its dead letters with Retry and Discard (each confirmed in a
// dialog, recorded with the operator's name); below, the operator trail.
// Refreshed every 2 s. `node`: the node of the cluster shown and acted on
// (?node=ID on every call; none: the node serving the console).

import { del, get, onNode, post } from '../api.js';
import { duration, time } from '../format.js';
import { Field, NodePicker, Subject, Table, notice, useConfirm, usePoll } from '../ui.jsx';

const REFRESH_MS = 2000;

export function OutboxPage({ node }) {
  const { data, reload } = usePoll(
    async () => {
      const [pending, dead] = await Promise.all([
        get(onNode('/v1/admin/outbox?state=pending&limit=100', node)),
        get(onNode('/v1/admin/outbox?state=dead&limit=100', node)),
      ]);
      return { pending, dead };
    },
    REFRESH_MS,
    [node],
  );
  const log = usePoll(() => get(onNode('/v1/admin/operator-log?limit=50', node)), REFRESH_MS, [node]);
  const changed = () => {
    reload();
    log.reload();
  };
  return (
    <section>
      <h2>Outbox and dead letters</h2>
      <NodePicker node={node} />
      {data && (
        <>
          <div class="card grid-fields">
            <Field label="backlog" testid="outbox-backlog" big>
              {data.pending.backlog}
            </Field>
            <Field label="dead letters" testid="outbox-dead-count" big>
              {data.pending.dead_letters}
            </Field>
            <Field label="oldest undelivered" big>
              {duration(data.pending.oldest_ms)}
            </Field>
          </div>
          <Destinations list={data.pending.destinations} node={node} />
          <DeadLetters messages={data.dead.messages} changed={changed} node={node} />
          <Pending messages={data.pending.messages} node={node} />
        </>
      )}
      {log.data && <OperatorLog entries={log.data.entries} node={node} />}
    </section>
  );
}

function Destinations({ list, node }) {
  return (
    <div class="card">
      <h3>Backlog per destination</h3>
      <Table head={['destination', 'pending', 'oldest', 'most attempts', 'last error']} testid="destinations" empty="nothing pending">
        {list.map((d) => (
          <tr key={d.to} data-testid="destination-row">
            <td>
              <Subject value={d.to} node={node} />
            </td>
            <td class="num">{d.pending}</td>
            <td class="num">{duration(d.oldest_ms)}</td>
            <td class="num">{d.attempts_max}</td>
            <td class="error-text">{d.last_error ?? ''}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function Body({ body }) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return (
    <details>
      <summary>{text.length > 40 ? `${text.slice(0, 40)}…` : text}</summary>
      <pre>{text}</pre>
    </details>
  );
}

function DeadLetters({ messages, changed, node }) {
  const [dialog, ask] = useConfirm();
  const on = node ? ` on node ${node}` : '';
  const retry = (m) =>
    ask({
      title: `Retry dead letter ${m.seq}${on}?`,
      body: `The ${m.type} message to ${m.to} is queued again and delivered like a new one.`,
      label: 'Retry',
      run: async () => {
        const r = await post(onNode(`/v1/admin/outbox/${m.seq}/retry`, node));
        notice(`Dead letter ${r.retried}${on} was queued again as message ${r.seq}.`);
        changed();
      },
    });
  const discard = (m) =>
    ask({
      title: `Discard dead letter ${m.seq}${on}?`,
      body: `The ${m.type} message to ${m.to} is deleted and never delivered.`,
      label: 'Discard',
      danger: true,
      run: async () => {
        const r = await del(onNode(`/v1/admin/outbox/${m.seq}`, node));
        notice(`Dead letter ${r.discarded}${on} was discarded.`);
        changed();
      },
    });
  return (
    <div class="card">
      <h3>Dead letters</h3>
      <Table head={['seq', 'from', 'to', 'type', 'attempts', 'age', 'last error', 'body', '']} testid="dead-letters" empty="no dead letters">
        {messages.map((m) => (
          <tr key={m.seq} data-testid="dead-letter" data-seq={m.seq}>
            <MessageCells m={m} node={node} />
            <td>
              <div class="buttons nowrap">
                <button type="button" data-testid="dead-retry" onClick={() => retry(m)}>
                  Retry…
                </button>
                <button type="button" class="danger" data-testid="dead-discard" onClick={() => discard(m)}>
                  Discard…
                </button>
              </div>
            </td>
          </tr>
        ))}
      </Table>
      {dialog}
    </div>
  );
}

// The columns a pending message and a dead letter share.
function MessageCells({ m, node }) {
  return (
    <>
      <td class="num">{m.seq}</td>
      <td>
        <Subject value={m.from} node={node} />
      </td>
      <td>
        <Subject value={m.to} node={node} />
      </td>
      <td>{m.type}</td>
      <td class="num">{m.attempts}</td>
      <td class="num">{duration(m.age_ms)}</td>
      <td class="error-text">{m.last_error ?? ''}</td>
      <td>
        <Body body={m.body} />
      </td>
    </>
  );
}

function Pending({ messages, node }) {
  return (
    <div class="card">
      <h3>Pending messages</h3>
      <Table head={['seq', 'from', 'to', 'type', 'attempts', 'age', 'last error', 'body']} testid="pending-messages" empty="nothing pending">
        {messages.map((m) => (
          <tr key={m.seq}>
            <MessageCells m={m} node={node} />
          </tr>
        ))}
      </Table>
    </div>
  );
}

function OperatorLog({ entries, node }) {
  return (
    <div class="card">
      <h3>Operator trail</h3>
      <Table head={['at', 'operator', 'action', 'subject', 'detail']} testid="operator-log" empty="no operator actions yet">
        {entries.map((e, i) => (
          <tr key={i} data-testid="operator-log-row">
            <td>{time(e.at)}</td>
            <td>{e.operator}</td>
            <td>{e.action}</td>
            <td>{e.subject && <Subject value={e.subject} node={node} />}</td>
            <td>{typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail)}</td>
          </tr>
        ))}
      </Table>
    </div>
  );
}
