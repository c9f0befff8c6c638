// A uPlot time-series chart that follows its container's width, with the
// latest value of each series listed under it.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];
const HEIGHT = 180;

/** Unix seconds as "HH:MM:SS" UTC, like the console's other times. */
const clock = (t) => new Date(t * 1000).toISOString().slice(11, 19);

// Tick steps of a y axis that counts whole things.
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];

/**
 * `names` label the series; `data` is [times (unix s), ...one array per
 * name] (null = no value then); the x axis spans the last `span` seconds;
 * `whole` keeps y ticks on integers; fmt formats the latest values.
 */
export function Chart({ id, title, names, data, fmt, span, whole = false }) {
  const box = useRef(null);
  const plot = useRef(null);
  const key = names.join('\n');
  useEffect(() => {
    if (names.length === 0) {
      return undefined;
    }
    const el = box.current;
    plot.current = new uPlot(
      {
        width: el.clientWidth,
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true, range: (u, min, max) => [max - span, max] } },
        axes: [{ space: 80, values: (u, ticks) => ticks.map(clock) }, { size: 60, ...(whole ? { incrs: WHOLE } : {}) }],
        series: [{}, ...names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => plot.current.setSize({ width: el.clientWidth, height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [key]);
  useEffect(() => {
    if (plot.current) {
      plot.current.setData(data);
    }
  }, [data]);
  let max = null;
  for (const ys of data.slice(1)) {
    for (const y of ys) {
      if (y !== null && (max === null || y > max)) {
        max = y;
      }
    }
  }
  return (
    <div class="card chart" data-testid={`chart-${id}`} data-points={data[0].length} data-max={max ?? ''}>
      <h3>{title}</h3>
      {names.length === 0 ? <p class="muted">nothing measured in the window yet</p> : <div class="plot" ref={box} />}
      <ul class="latest">
        {names.map((n, i) => {
          const ys = data[i + 1];
          const last = ys[ys.length - 1];
          return (
            <li key={n} data-testid="latest" data-series={n}>
              <span class="swatch" style={{ background: COLORS[i % COLORS.length] }} />
              {n}: <b>{last === null ? '—' : fmt(last)}</b>
            </li>
          );
        })}
      </ul>
    </div>
  );
}
