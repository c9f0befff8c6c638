// The console's shell: login, navigation, hash routing, the error and notice
// banners. Each page lives in src/pages/.

import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { clearSession, get, onApiError, onNode, onUnauthorized, saveSession, session } from './api.js';
import { ActorsPage } from './pages/actors.jsx';
import { ApiPage } from './pages/api.jsx';
import { AuditPage } from './pages/audit.jsx';
import { ClusterPage } from './pages/cluster.jsx';
import { FaultsPage } from './pages/faults.jsx';
import { MetricsPage } from './pages/metrics.jsx';
import { OrderPage } from './pages/order.jsx';
import { OutboxPage } from './pages/outbox.jsx';
import { onNotice } from './ui.jsx';

// [route, nav label, page]; #/user/ID is the order page's user lookup.
const PAGES = [
  ['order', 'Order', OrderPage],
  ['actors', 'Actors', ActorsPage],
  ['outbox', 'Outbox', OutboxPage],
  ['audit', 'Audit', AuditPage],
  ['metrics', 'Metrics', MetricsPage],
  ['cluster', 'Cluster', ClusterPage],
  ['faults', 'Faults', FaultsPage],
  ['api', 'API', ApiPage],
];
const ALIASES = { user: 'order' };
// Pages about one node of a cluster (?node=ID in the route picks which).
const PER_NODE = ['outbox', 'audit', 'metrics', 'faults'];

const REFUSED = 'The server refused this admin token (401 unauthorized).';

/**
 * The hash as {page, args, node}: "#/actors/sku/A" → {page: "actors", args:
 * ["sku", "A"], node: null}; "#/outbox?node=b" → {page: "outbox", args: [],
 * node: "b"}.
 */
function parseHash() {
  const [where, query = ''] = location.hash.replace(/^#\/?/, '').split('?', 2);
  const [page, ...args] = where.split('/').map(decodeURIComponent);
  return { page: page || 'order', args: args.filter(Boolean), node: new URLSearchParams(query).get('node') || null };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

function Login({ refusal, onDone }) {
  const [operator, setOperator] = useState('');
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setProblem(null);
    setBusy(true);
    saveSession(operator.trim(), token);
    try {
      await get('/v1/admin/cluster', { quiet: true });
      onDone();
      return;
    } catch (err) {
      if (err.status !== 401) {
        clearSession();
        setProblem(`${err.code}: ${err.message}`);
      }
    }
    setBusy(false);
  };
  const shown = problem || refusal;
  return (
    <main class="login">
      <form class="card" onSubmit={submit} data-testid="login-form">
        <h1>ordo console</h1>
        <label>
          Operator name
          <input
            data-testid="login-operator"
            value={operator}
            onInput={(e) => setOperator(e.target.value)}
            required
            pattern="[ -~]{1,64}"
            title="1 to 64 printable ASCII characters"
            autocomplete="username"
          />
        </label>
        <label>
          Admin token
          <input
            data-testid="login-token"
            type="password"
            value={token}
            onInput={(e) => setToken(e.target.value)}
            required
            autocomplete="current-password"
          />
        </label>
        {shown && (
          <p class="alert" role="alert" data-testid="login-error">
            {shown}
          </p>
        )}
        <button type="submit" class="primary" data-testid="login-submit" disabled={busy}>
          Log in
        </button>
        <p class="muted small">The token stays in this tab's session storage and is sent only to this server.</p>
      </form>
    </main>
  );
}

function Banner({ kind, children, onClose, testid }) {
  return (
    <div class={`banner ${kind}`} role={kind === 'error' ? 'alert' : 'status'} data-testid={testid}>
      <span>{children}</span>
      <button type="button" class="close" aria-label="Dismiss" onClick={onClose}>
        ×
      </button>
    </div>
  );
}

function App() {
  const [who, setWho] = useState(session);
  const [refusal, setRefusal] = useState(null);
  const [error, setError] = useState(null);
  const [note, setNote] = useState(null);
  const route = useRoute();
  useEffect(() => {
    onUnauthorized(() => {
      clearSession();
      setWho(null);
      setRefusal(REFUSED);
    });
    onApiError(setError);
    onNotice(setNote);
  }, []);
  const where = `${route.page}/${route.args.join('/')}?${route.node ?? ''}`;
  useEffect(() => {
    setError(null);
    setNote(null);
  }, [where]);
  if (!who) {
    return (
      <Login
        refusal={refusal}
        onDone={() => {
          setRefusal(null);
          setWho(session());
        }}
      />
    );
  }
  const current = ALIASES[route.page] || route.page;
  const Page = (PAGES.find(([r]) => r === current) || PAGES[0])[2];
  // From one per-node page to another, the node chosen stays.
  const node = PER_NODE.includes(current) ? route.node : null;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/order">
          ordo
        </a>
        <nav data-testid="nav">
          {PAGES.map(([r, label]) => (
            <a
              key={r}
              href={PER_NODE.includes(r) ? onNode(`#/${r}`, node) : `#/${r}`}
              class={r === current ? 'active' : ''}
              data-testid={`nav-${r}`}
            >
              {label}
            </a>
          ))}
        </nav>
        <span class="who">
          <span data-testid="operator-name">{who.operator}</span>
          <button
            type="button"
            data-testid="logout"
            onClick={() => {
              clearSession();
              setRefusal(null);
              setWho(null);
            }}
          >
            Log out
          </button>
        </span>
      </header>
      <main class="page">
        {error && (
          <Banner kind="error" testid="error-banner" onClose={() => setError(null)}>
            <b>{error.code}</b>
            {error.status ? ` (${error.status})` : ''}: {error.message}
          </Banner>
        )}
        {note && (
          <Banner kind="notice" testid="notice" onClose={() => setNote(null)}>
            {note}
          </Banner>
        )}
        <Page key={`${current}?${node ?? ''}`} page={route.page} args={route.args} node={node} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app'));
