// Actors page (#/actors/KIND/ID): any actor's stored state, read without
// activating it: exists, active, version, mailbox, its state as a key/value
// tree, journal, timers and undelivered outbox. Refreshed every 2 s.

import { useState } from 'preact/hooks';
import { get, path } from '../api.js';
import { Field, KINDS, Tree, orderHref, usePoll } from '../ui.jsx';
import { Outbox, Timeline, Timers } from './order.jsx';

export function ActorsPage({ args }) {
  const [kind, id] = args;
  return (
    <section>
      <h2>Actors</h2>
      <Picker key={`${kind}/${id}`} kind={kind || 'order'} id={id || ''} />
      {kind && id && <ActorView kind={kind} id={id} />}
    </section>
  );
}

function Picker(props) {
  const [kind, setKind] = useState(props.kind);
  const [id, setId] = useState(props.id);
  return (
    <form
      class="inline"
      onSubmit={(e) => {
        e.preventDefault();
        if (id.trim()) {
          location.hash = `#/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id.trim())}`;
        }
      }}
    >
      <label>
        Kind
        <select data-testid="actor-kind" value={kind} onChange={(e) => setKind(e.target.value)}>
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <label>
        Id
        <input class="id" data-testid="actor-id" value={id} onInput={(e) => setId(e.target.value)} placeholder="A, c1, o0033-…" />
      </label>
      <button type="submit" data-testid="actor-go">
        Inspect
      </button>
    </form>
  );
}

function ActorView({ kind, id }) {
  const { data: a, error } = usePoll(() => get(path`/v1/admin/actors/${kind}/${id}`), 2000, [kind, id]);
  if (!a) {
    return <p class="muted">{error ? `${kind}/${id} could not be loaded.` : `Loading ${kind}/${id}…`}</p>;
  }
  return (
    <div data-testid="actor-view">
      <div class="card grid-fields">
        <Field label="actor">
          {a.kind}/{a.id}
          {a.kind === 'order' && (
            <>
              {' '}
              <a class="small" href={orderHref(a.id)}>
                order page
              </a>
            </>
          )}
        </Field>
        <Field label="exists" testid="actor-exists">
          {String(a.exists)}
        </Field>
        <Field label="in memory">{String(a.active)}</Field>
        <Field label="version" testid="actor-version">
          {a.version}
        </Field>
        <Field label="mailbox">{a.mailbox_size ?? 'not in memory'}</Field>
      </div>
      <div class="card">
        <h3>State</h3>
        <div data-testid="actor-state">
          <Tree value={a.state} />
        </div>
      </div>
      <Timeline journal={a.journal} />
      <Timers timers={a.timers} />
      <Outbox outbox={a.outbox} />
    </div>
  );
}
