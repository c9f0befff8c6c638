// Metrics page (#/metrics): live charts of the last ~2 minutes, scraped
// every second from GET /metrics (and flash cancels from GET
// /v1/reports/sales). Rates and quantiles are over the interval between two
// scrapes; the history lives in memory while the page is open. `node`: the
// node of the cluster scraped (GET /metrics?node=ID; none: the node serving
// the console); the sales report is the whole cluster's.

import { useRef } from 'preact/hooks';
import { get, onNode } from '../api.js';
import { Chart } from '../chart.jsx';
import { num } from '../format.js';
import { delta, histograms, parse, quantile, rate, sumBy, total } from '../prom.js';
import { NodePicker, usePoll } from '../ui.jsx';

const SCRAPE_MS = 1000;
const KEEP = 120;
const TOP_ROUTES = 8;

const REQUESTS = 'ordo_http_requests_total';
const LATENCY = 'ordo_http_request_duration_seconds';
const byRoute = (l) => `${l.method} ${l.route}`;
const ms = (v) => `${num(v, v < 10 ? 2 : 0)}ms`;

/** Each histogram group's quantile q over the interval, times `scale`. */
function intervalQuantiles(cur, prev, name, key, q, scale) {
  const before = histograms(prev, name, key);
  const out = {};
  for (const [k, h] of histograms(cur, name, key)) {
    const v = quantile(q, delta(h, before.get(k)));
    if (v !== null) {
      out[k] = v * scale;
    }
  }
  return out;
}

/** {mean, p99} of histogram `name` over the interval, times `scale`. */
function intervalStats(cur, prev, name, scale) {
  const h = histograms(cur, name).get('');
  if (!h) {
    return {};
  }
  const d = delta(h, histograms(prev, name).get(''));
  if (d.count <= 0) {
    return {};
  }
  return { mean: (d.sum / d.count) * scale, p99: quantile(0.99, d) * scale };
}

/** Only the present values of `o`. */
function present(o) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}

// Each chart: its series' values at one scrape `c` given the previous `p`
// ({samples, sales}) and the seconds `dt` between them.
const CHARTS = [
  {
    id: 'http-rps',
    title: 'Requests/s by route',
    fmt: (v) => num(v, 1),
    top: TOP_ROUTES,
    values: (c, p, dt) => {
      const before = sumBy(p.samples, REQUESTS, byRoute);
      const out = {};
      for (const [k, v] of sumBy(c.samples, REQUESTS, byRoute)) {
        out[k] = rate(v, before.get(k) ?? 0, dt);
      }
      return out;
    },
  },
  {
    id: 'http-p99',
    title: 'p99 latency by route (ms)',
    fmt: ms,
    top: TOP_ROUTES,
    values: (c, p) => intervalQuantiles(c.samples, p.samples, LATENCY, byRoute, 0.99, 1000),
  },
  {
    id: 'flash-cancels',
    title: 'Flash cancels (total, per minute)',
    fmt: (v) => num(v, 1),
    whole: true,
    values: (c, p, dt) =>
      present({
        total: c.sales?.flash_cancels.count,
        'per minute': c.sales && p.sales ? rate(c.sales.flash_cancels.count, p.sales.flash_cancels.count, dt) * 60 : null,
      }),
  },
  {
    id: 'sms',
    title: 'Admin SMS: sent vs suppressed (total)',
    fmt: (v) => num(v, 0),
    whole: true,
    values: (c) =>
      present(Object.fromEntries(['sent', 'suppressed', 'expired'].map((o) => [o, total(c.samples, 'ordo_sms_total', { outcome: o })]))),
  },
  {
    id: 'refunds-owed',
    title: 'Refunds owed (not yet acknowledged by the provider)',
    fmt: (v) => num(v, 0),
    whole: true,
    values: (c) => present({ owed: total(c.samples, 'ordo_refunds_owed') }),
  },
  {
    id: 'outbox',
    title: 'Outbox backlog',
    fmt: (v) => num(v, 0),
    whole: true,
    values: (c) =>
      present({ backlog: total(c.samples, 'ordo_outbox_backlog'), 'dead letters': total(c.samples, 'ordo_outbox_dead_letters') }),
  },
  {
    id: 'fsync',
    title: 'WAL fsync latency (ms)',
    fmt: ms,
    values: (c, p) => intervalStats(c.samples, p.samples, 'ordo_wal_sync_seconds', 1000),
  },
  {
    id: 'batch-size',
    title: 'Batches per group commit (mean)',
    fmt: (v) => num(v, 1),
    values: (c, p) => present({ mean: intervalStats(c.samples, p.samples, 'ordo_commit_batches', 1).mean }),
  },
  {
    id: 'mailbox',
    title: 'Mailbox depth',
    fmt: (v) => num(v, 0),
    whole: true,
    values: (c) => present({ depth: total(c.samples, 'ordo_mailbox_depth') }),
  },
];

/** A chart's series names (the `top` largest in the window, when limited) and uPlot data. */
function series(chart, points) {
  const peak = new Map();
  for (const pt of points) {
    for (const [k, v] of Object.entries(pt.values[chart.id])) {
      peak.set(k, Math.max(peak.get(k) ?? -Infinity, v));
    }
  }
  let names = [...peak.keys()].sort();
  if (chart.top && names.length > chart.top) {
    names = [...names].sort((a, b) => peak.get(b) - peak.get(a)).slice(0, chart.top).sort();
  }
  const data = [points.map((pt) => pt.t), ...names.map((n) => points.map((pt) => pt.values[chart.id][n] ?? null))];
  return { names, data };
}

export function MetricsPage({ node }) {
  const history = useRef({ prev: null, points: [] });
  const { data: points } = usePoll(
    async () => {
      // The sales report is gathered from every node of a cluster and fails
      // while one is down: the other charts go on without it.
      const [text, sales] = await Promise.all([
        get(onNode('/metrics', node), { text: true }),
        get('/v1/reports/sales', { quiet: true }).catch(() => null),
      ]);
      const cur = { samples: parse(text), sales, t: Date.now() / 1000 };
      const h = history.current;
      if (h.prev) {
        const dt = cur.t - h.prev.t;
        const values = Object.fromEntries(CHARTS.map((ch) => [ch.id, ch.values(cur, h.prev, dt)]));
        h.points = [...h.points.slice(-(KEEP - 1)), { t: cur.t, values }];
      }
      h.prev = cur;
      return h.points;
    },
    SCRAPE_MS,
    [node],
  );
  return (
    <section>
      <h2>Metrics</h2>
      <NodePicker node={node} />
      <p class="muted small">
        {node ? `Node ${node}'s` : "This node's"} <code>/metrics</code>, scraped every second (flash cancels: the whole
        cluster's sales report); the last {KEEP} seconds, kept while this page is open.
      </p>
      <div class="charts">
        {CHARTS.map((ch) => {
          const { names, data } = series(ch, points || []);
          return (
            <Chart
              key={ch.id}
              id={ch.id}
              title={ch.title}
              names={names}
              data={data}
              fmt={ch.fmt}
              whole={ch.whole}
              span={KEEP}
            />
          );
        })}
      </div>
    </section>
  );
}
