// How the console writes numbers, money, times and durations.

/** Cents as "19.99" (integer cents throughout the API). */
export function money(cents) {
  if (cents === null || cents === undefined) {
    return '—';
  }
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** An RFC 3339 time as "2026-12-07 04:11:44.571 UTC". */
export function time(iso) {
  return iso ? iso.replace('T', ' ').replace('Z', ' UTC') : '—';
}

/** Milliseconds as "850ms", "3.2s", "14m 32s", "2h 5m", "3d 4h". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) {
    return '—';
  }
  const neg = ms < 0 ? '-' : '';
  ms = Math.abs(ms);
  if (ms < 1000) {
    return `${neg}${Math.round(ms)}ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${neg}${s.toFixed(1)}s`;
  }
  const parts = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor(s / 3600) % 24, 'h'],
    [Math.floor(s / 60) % 60, 'm'],
    [Math.floor(s) % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  return neg + parts.slice(first, first + 2).map(([n, u]) => `${n}${u}`).join(' ');
}

/** A number with at most `digits` decimals, or "—". */
export function num(x, digits = 2) {
  if (x === null || x === undefined || Number.isNaN(x)) {
    return '—';
  }
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}
