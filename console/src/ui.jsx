// Pieces every page uses: polling, a ticking clock, the confirmation dialog,
// the key/value tree, status badges and links between pages.

import { useEffect, useRef, useState } from 'preact/hooks';
import { get, onNode } from './api.js';

/**
 * Runs `load` now and then `ms` after each run ends (0: once) while the
 * component lives and `deps` stay; {data, error, loading, reload}. `data`
 * keeps the last success while a later run fails.
 */
export function usePoll(load, ms, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [nonce, setNonce] = useState(0);
  const depsKey = JSON.stringify(deps);
  const lastKey = useRef(depsKey);
  useEffect(() => {
    let alive = true;
    let timer = null;
    if (lastKey.current !== depsKey) {
      lastKey.current = depsKey;
      setState({ data: null, error: null, loading: true });
    }
    const run = async () => {
      try {
        const data = await load();
        if (alive) {
          setState({ data, error: null, loading: false });
        }
      } catch (error) {
        if (alive) {
          setState((s) => ({ ...s, error, loading: false }));
        }
      }
      if (alive && ms) {
        timer = setTimeout(run, ms);
      }
    };
    run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [depsKey, nonce]);
  return { ...state, reload: () => setNonce((n) => n + 1) };
}

/** Date.now(), re-rendering the caller every `ms`. */
export function useNow(ms = 1000) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * An in-page confirmation: [dialog, ask]. ask({title, body, label, danger,
 * run}) shows the dialog; its confirm button runs `run` (errors go to the
 * banner through the API layer).
 */
export function useConfirm() {
  const [asking, setAsking] = useState(null);
  const dialog = asking && <Dialog asking={asking} close={() => setAsking(null)} />;
  return [dialog, setAsking];
}

function Dialog({ asking, close }) {
  const cancel = useRef(null);
  useEffect(() => cancel.current.focus(), []);
  return (
    <div class="backdrop" onKeyDown={(e) => e.key === 'Escape' && close()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title" data-testid="confirm-dialog">
        <h3 id="dialog-title">{asking.title}</h3>
        <div class="dialog-body">{asking.body}</div>
        <div class="buttons">
          <button type="button" ref={cancel} data-testid="confirm-cancel" onClick={close}>
            Cancel
          </button>
          <button
            type="button"
            class={asking.danger ? 'danger' : 'primary'}
            data-testid="confirm-ok"
            onClick={async () => {
              const running = asking.run(); // reads the dialog's inputs before it closes
              close();
              try {
                await running;
              } catch {
                // shown in the error banner by the API layer
              }
            }}
          >
            {asking.label || 'Confirm'}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Any JSON value as a readable, nested key/value tree. */
export function Tree({ value }) {
  if (value === null || value === undefined) {
    return <span class="v-null">null</span>;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return <span class="muted">[ ]</span>;
    }
    return (
      <ol class="tree-list" start="0">
        {value.map((v, i) => (
          <li key={i}>
            <Tree value={v} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0) {
      return <span class="muted">{'{ }'}</span>;
    }
    return (
      <dl class="tree">
        {keys.map((k) => [
          <dt key={`k${k}`}>{k}</dt>,
          <dd key={`v${k}`}>
            <Tree value={value[k]} />
          </dd>,
        ])}
      </dl>
    );
  }
  return <span class={`v-${typeof value}`}>{String(value)}</span>;
}

/** A status word (order, payment, notification...) as a coloured badge. */
export function Badge({ value, testid }) {
  const word = value === true ? 'yes' : value === false ? 'no' : String(value ?? '—');
  return (
    <span class={`badge b-${word.toLowerCase()}`} data-testid={testid}>
      {word}
    </span>
  );
}

/** A table in a horizontally scrolling box (phones). */
export function Table({ head, children, testid, empty = 'none' }) {
  const rows = [].concat(children).filter(Boolean);
  if (rows.length === 0) {
    return (
      <p class="muted" data-testid={testid}>
        {empty}
      </p>
    );
  }
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>{rows}</tbody>
      </table>
    </div>
  );
}

/** Kinds GET /v1/admin/actors/{kind}/{id} knows. */
export const KINDS = ['order', 'sku', 'coupon', 'affiliate', 'notifier', 'dispatcher', 'technicians', 'limiter', 'report'];

export const orderHref = (id) => `#/order/${encodeURIComponent(id)}`;
export const actorHref = (kind, id) => `#/actors/${encodeURIComponent(kind)}/${encodeURIComponent(id)}`;

/**
 * An address or subject ("order/ID", "sku/A", "outbox", "outbox/SEQ",
 * "payment") as a link to where it can be inspected, or as text when there
 * is none. `node`: the node whose outbox "outbox..." means (none: this one).
 */
export function Subject({ value, node }) {
  if (value === 'outbox' || value.startsWith('outbox/')) {
    return <a href={onNode('#/outbox', node)}>{value}</a>;
  }
  const slash = value.indexOf('/');
  const kind = value.slice(0, slash);
  const id = value.slice(slash + 1);
  if (slash < 0 || !KINDS.includes(kind)) {
    return <span>{value}</span>;
  }
  if (kind === 'order') {
    return (
      <span class="subject">
        <a href={orderHref(id)}>{value}</a>{' '}
        <a class="small" href={actorHref(kind, id)}>
          actor
        </a>
      </span>
    );
  }
  return <a href={actorHref(kind, id)}>{value}</a>;
}

/** A labelled value in a summary grid. */
export function Field({ label, children, testid, big = false }) {
  return (
    <div class="field">
      <div class="label">{label}</div>
      <div class={big ? 'value big' : 'value'} data-testid={testid}>
        {children}
      </div>
    </div>
  );
}

let noticeSink = () => {};

/** fn(text) shows what an operator's action did (the notice banner). */
export function onNotice(fn) {
  noticeSink = fn;
}

export function notice(text) {
  noticeSink(text);
}

/**
 * Which node a per-node page (outbox, audit, faults, metrics) shows: on a
 * cluster, a selector of its nodes (GET /v1/admin/cluster) and "showing
 * node X"; nothing on a single node unless the route names a node. `node`
 * is the route's `?node=ID` (none: the node serving the console, the
 * default). Choosing a node rewrites the hash route (#/outbox?node=b), so
 * links and reloads keep it; the page sends its calls through onNode().
 */
export function NodePicker({ node }) {
  const { data } = usePoll(() => get('/v1/admin/cluster', { quiet: true }), 5000, []);
  if (!data || (data.nodes.length < 2 && !node)) {
    return null;
  }
  const self = data.node_id;
  const shown = node || self;
  const nodes = data.nodes.some((n) => n.id === shown) ? data.nodes : [...data.nodes, { id: shown, stranger: true }];
  const choose = (id) => {
    location.hash = onNode(location.hash.replace(/\?.*$/, ''), id === self ? null : id);
  };
  const remark = (n) =>
    n.id === self ? ' (this console)' : n.stranger ? ' (not in this cluster)' : n.reachable ? '' : ' (unreachable)';
  return (
    <div class={shown === self ? 'node-pick' : 'node-pick other'} data-testid="node-pick" data-node={shown}>
      <label>
        Node
        <select data-testid="node-select" value={shown} onChange={(e) => choose(e.target.value)}>
          {nodes.map((n) => (
            <option key={n.id} value={n.id}>
              {n.id}
              {remark(n)}
            </option>
          ))}
        </select>
      </label>
      <span data-testid="node-shown">
        showing node <b>{shown}</b>
        {shown === self ? ', which serves this console' : `, asked through ${self}, which serves this console`}
      </span>
    </div>
  );
}
