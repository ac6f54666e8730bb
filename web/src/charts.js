// Charts on uPlot (~50 kB, canvas): line, step and bar series that follow
// their container's width, so they fit a phone as well as a desktop.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.js';

export const colors = {
  supply: '#2e7d32',
  demand: '#c62828',
  mcp: '#1565c0',
  grid: '#8e24aa',
  feedIn: '#ef6c00',
  load: '#c62828',
  loadNoDR: '#e57373',
  gen: '#2e7d32',
  import: '#6d4c41',
  export: '#00897b',
  p2p: '#1565c0',
  traded: '#1565c0',
  promised: '#90a4ae',
  verified: '#2e7d32',
  charge: '#1565c0',
  soc: '#ef6c00',
  now: '#455a64',
};

const utc = (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC');
const pad = (n) => String(n).padStart(2, '0');

// Time ticks in 24-hour UTC: "13:00", and the date where a day starts or
// when the ticks are days apart.
function timeTicks(u, splits, axisIdx, space, incr) {
  return splits.map((ts) => {
    const d = new Date(ts * 1000);
    const day = `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    if (incr >= 86400 || (d.getUTCHours() === 0 && d.getUTCMinutes() === 0)) return day;
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  });
}

function paths(s) {
  if (s.bars) {
    // A fraction of the gap between points, capped in proportion, so that
    // layered bars of different fractions keep different widths.
    const f = typeof s.bars === 'number' ? s.bars : 0.7;
    return uPlot.paths.bars({ size: [f, Math.round(90 * f)], align: s.barAlign ?? 0 });
  }
  if (s.step) return uPlot.paths.stepped({ align: 1 });
  return undefined;
}

/**
 * Creates a chart in a new element and returns {el, update(data, mark), destroy()}.
 * opts: series [{label, color, dash, step, bars, barAlign (1: the bar
 * starts at its x), fill, width}], data ([xs, ...ys]), x: 'time'
 * (market-time seconds, shown in UTC) or {label, fmt, space}, y: {label,
 * fmt, zero, range ([min, max], or (u, min, max) => [min, max])}, y2 (a second axis on the right,
 * on the same scale: {label, fmt, splits (the values to tick)}), mark
 * ([from, to] of x to shade, e.g. the current hour), height, testid,
 * stepEnd (seconds: the length of the interval each x starts, for stepped
 * series), xPad (x units of room on each side, for bars).
 * The element's `plot` is the uPlot instance (the data drawn, for tests),
 * its data-mark the shaded range's start.
 */
export function chart(opts) {
  const el = h('div', { class: 'chart', testid: opts.testid, role: 'img', 'aria-label': opts.title ?? opts.y?.label ?? 'chart' });
  let plot = null;
  let width = 0;
  const timeX = opts.x === 'time';
  const height = opts.height ?? 260;
  // Pad the x range (bars at the ends would be cut in half), and give a
  // single point some room instead of uPlot's range of years.
  const pad = opts.xPad ?? 0;
  // Energy axes start at 0 (bars must stand on it).
  const zeroRange = (u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.08 : 1];
  const r = opts.y?.range;
  const yRange = typeof r === 'function' ? r : r ? () => r : opts.y?.zero ? zeroRange : undefined;
  let mark = opts.mark ?? null;
  const setMark = (m) => {
    mark = m ?? null;
    if (mark) el.dataset.mark = String(mark[0]);
    else delete el.dataset.mark;
  };
  setMark(mark);
  // Shades the marked range under the series, with a line at its start.
  const drawMark = (u) => {
    if (!mark) return;
    const [x0, x1] = [u.valToPos(mark[0], 'x', true), u.valToPos(mark[1], 'x', true)];
    const { left, top, width, height: hgt } = u.bbox;
    const a = Math.max(left, Math.min(x0, x1));
    const b = Math.min(left + width, Math.max(x0, x1));
    if (b <= a) return;
    const c = u.ctx;
    c.save();
    c.fillStyle = colors.now + '1f';
    c.fillRect(a, top, b - a, hgt);
    c.strokeStyle = colors.now;
    c.setLineDash([4, 3]);
    c.beginPath();
    c.moveTo(Math.round(a) + 0.5, top);
    c.lineTo(Math.round(a) + 0.5, top + hgt);
    c.stroke();
    c.restore();
  };
  // The range comes from the data itself: with a single point uPlot passes
  // a stale range.
  const xRange = (u) => {
    const xs = u.data[0];
    if (!xs?.length) return [0, 1];
    const [min, max] = [xs[0], xs[xs.length - 1]];
    if (min === max) return [min - Math.max(pad, timeX ? 1800 : 0.5), max + Math.max(pad, timeX ? 1800 : 0.5)];
    return [min - pad, max + pad];
  };

  const config = (w) => ({
    width: w,
    height,
    tzDate: utc,
    cursor: { drag: { x: false, y: false } },
    legend: { live: false },
    scales: { x: { time: timeX, range: xRange }, y: { range: yRange } },
    hooks: { drawClear: [drawMark] },
    axes: [
      {
        label: timeX ? undefined : opts.x?.label,
        space: opts.x?.space ?? 50, // px between ticks: wide labels need more
        values: timeX ? timeTicks : (u, vals) => vals.map((v) => (opts.x?.fmt ? opts.x.fmt(v) : v)),
        stroke: '#555',
        grid: { stroke: '#eee' },
      },
      {
        label: opts.y?.label,
        values: (u, vals) => vals.map((v) => (opts.y?.fmt ? opts.y.fmt(v) : v)),
        size: 60,
        stroke: '#555',
        grid: { stroke: '#eee' },
      },
      ...(opts.y2
        ? [
            {
              scale: 'y',
              side: 1,
              label: opts.y2.label,
              splits: opts.y2.splits ? () => opts.y2.splits : undefined,
              values: (u, vals) => vals.map((v) => (opts.y2.fmt ? opts.y2.fmt(v) : v)),
              size: 60,
              stroke: '#555',
              grid: { show: false },
            },
          ]
        : []),
    ],
    series: [
      { label: timeX ? 'Time (UTC)' : opts.x?.label ?? 'x', value: timeX ? '{YYYY}-{MM}-{DD} {HH}:{mm}' : (u, v) => (v == null ? '—' : opts.x?.fmt ? opts.x.fmt(v) : v) },
      ...opts.series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: s.width ?? 2,
        dash: s.dash,
        fill: s.fill ?? (s.bars ? s.color + 'aa' : undefined),
        paths: paths(s),
        points: { show: (u) => u.data[0].length === 1 }, // a lone point has no line to show
        spanGaps: s.spanGaps ?? false,
        value: (u, v) => (v == null ? '—' : opts.y?.fmt ? opts.y.fmt(v) : v),
      })),
    ],
  });

  // A stepped series holds each value for its whole interval: repeat the
  // last value at the end of the last interval so that one shows too.
  const extend = (d) => {
    if (!opts.stepEnd || !d[0]?.length) return d;
    const n = d[0].length;
    return d.map((col, i) => [...col, i === 0 ? col[n - 1] + opts.stepEnd : col[n - 1]]);
  };
  let data = extend(opts.data);
  Object.defineProperty(el, 'plot', { get: () => plot });
  const build = () => {
    const w = Math.floor(el.clientWidth);
    if (w <= 0 || w === width) return;
    width = w;
    if (plot) plot.setSize({ width: w, height });
    else plot = new uPlot(config(w), data, el);
  };
  // Resize after layout, never inside the observer's own callback (that
  // would loop and report an error).
  const ro = new ResizeObserver(() => requestAnimationFrame(build));
  ro.observe(el);
  requestAnimationFrame(build);

  return {
    el,
    update(next, nextMark) {
      data = extend(next);
      if (nextMark !== undefined) setMark(nextMark);
      if (plot) plot.setData(data);
    },
    destroy() {
      ro.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}

/**
 * Supply and demand step curves of an order book, on one shared axis of
 * cumulative kWh: offers by ascending price (supply), bids by descending
 * price (demand). Returns [xs, supply, demand].
 */
export function bookCurves(orders) {
  const live = orders.filter((o) => !o.cancelled && o.wh > 0);
  const offers = live.filter((o) => o.side === 'offer').sort((a, b) => a.price - b.price || a.seq - b.seq);
  const bids = live.filter((o) => o.side === 'bid').sort((a, b) => b.price - a.price || a.seq - b.seq);
  const steps = (list) => {
    const out = []; // [fromKWh, toKWh, price]
    let q = 0;
    for (const o of list) {
      out.push([q, q + o.wh / 1000, o.price / 1e6]);
      q += o.wh / 1000;
    }
    return out;
  };
  const s = steps(offers);
  const d = steps(bids);
  const xs = [...new Set([0, ...s.flatMap((x) => [x[0], x[1]]), ...d.flatMap((x) => [x[0], x[1]])])].sort((a, b) => a - b);
  // The price in force at quantity x: the step starting at or before x; the
  // last step's end keeps its price so the curve ends with a vertical.
  const at = (st, x) => {
    if (st.length === 0 || x > st[st.length - 1][1]) return null;
    for (const [from, to, p] of st) if (x >= from && x < to) return p;
    return st[st.length - 1][2];
  };
  return [xs, xs.map((x) => at(s, x)), xs.map((x) => at(d, x))];
}
