// The Prometheus text format as GET /metrics writes it, and what the metrics
// page computes from two scrapes: counter rates and histogram quantiles over
// the interval between them.

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/y;

function unescape(v) {
  return v.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
}

function parseValue(v) {
  if (v === '+Inf') {
    return Infinity;
  }
  if (v === '-Inf') {
    return -Infinity;
  }
  return Number(v);
}

/**
 * Parses exposition text into [{name, labels: {k: v}, value}]; comment,
 * blank and malformed lines are skipped.
 */
export function parse(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) {
      continue;
    }
    const m = SAMPLE.exec(t);
    if (!m) {
      continue;
    }
    const labels = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      let l;
      while (LABEL.lastIndex < m[2].length && (l = LABEL.exec(m[2]))) {
        labels[l[1]] = unescape(l[2]);
      }
    }
    out.push({ name: m[1], labels, value: parseValue(m[3]) });
  }
  return out;
}

/**
 * Sums the samples named `name` into groups: key(labels) names the group
 * (null skips the sample). Returns Map(group -> sum).
 */
export function sumBy(samples, name, key = () => '') {
  const groups = new Map();
  for (const s of samples) {
    if (s.name !== name) {
      continue;
    }
    const k = key(s.labels);
    if (k !== null) {
      groups.set(k, (groups.get(k) || 0) + s.value);
    }
  }
  return groups;
}

/** The sum of every sample named `name` (labels matching `where`), or null when none. */
export function total(samples, name, where = {}) {
  let sum = null;
  for (const s of samples) {
    if (s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v)) {
      sum = (sum || 0) + s.value;
    }
  }
  return sum;
}

/**
 * The histogram `name` (its _bucket, _sum and _count samples) grouped by
 * key(labels) without `le`: Map(group -> {buckets: [[le, cumulative]] sorted
 * by le, sum, count}).
 */
export function histograms(samples, name, key = () => '') {
  const groups = new Map();
  const group = (labels) => {
    const k = key(labels);
    if (!groups.has(k)) {
      groups.set(k, { buckets: new Map(), sum: 0, count: 0 });
    }
    return groups.get(k);
  };
  for (const s of samples) {
    if (s.name === `${name}_bucket`) {
      const b = group(s.labels).buckets;
      const le = parseValue(s.labels.le);
      b.set(le, (b.get(le) || 0) + s.value);
    } else if (s.name === `${name}_sum`) {
      group(s.labels).sum += s.value;
    } else if (s.name === `${name}_count`) {
      group(s.labels).count += s.value;
    }
  }
  for (const h of groups.values()) {
    h.buckets = [...h.buckets.entries()].sort((a, b) => a[0] - b[0]);
  }
  return groups;
}

/**
 * What histogram `now` gained since `before` (the same group one scrape
 * earlier, or undefined for "since start"): {buckets, sum, count}. A counter
 * that went back (a restarted node) counts from zero.
 */
export function delta(now, before) {
  if (!before || now.count < before.count) {
    return now;
  }
  const old = new Map(before.buckets);
  return {
    buckets: now.buckets.map(([le, c]) => [le, c - (old.get(le) || 0)]),
    sum: now.sum - before.sum,
    count: now.count - before.count,
  };
}

/**
 * The q-quantile (0..1) of histogram `h` ({buckets: [[le, cumulative]]}),
 * interpolated linearly inside its bucket as Prometheus' histogram_quantile
 * does; the highest finite bound when it falls in +Inf; null when empty.
 */
export function quantile(q, h) {
  const n = h.buckets.length ? h.buckets[h.buckets.length - 1][1] : 0;
  if (n <= 0) {
    return null;
  }
  const rank = q * n;
  let lower = 0;
  let below = 0;
  for (const [le, c] of h.buckets) {
    if (c >= rank) {
      if (le === Infinity) {
        return lower;
      }
      const inBucket = c - below;
      return inBucket > 0 ? lower + ((le - lower) * (rank - below)) / inBucket : le;
    }
    lower = le;
    below = c;
  }
  return lower;
}

/** Per-second rate of a counter between two readings `dt` seconds apart (a reset counts from 0). */
export function rate(now, before, dt) {
  if (now === null || now === undefined || before === null || before === undefined || dt <= 0) {
    return null;
  }
  return (now >= before ? now - before : now) / dt;
}
