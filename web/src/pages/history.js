// History: market clearing prices against the utility's tariffs, and the
// energy traded in each interval.

import { h, fill, card, stat, note, table, loading } from '../dom.js';
import { get, clock, isAbort, chainInfo, coalesce } from '../api.js';
import { chart, colors } from '../charts.js';
import * as f from '../format.js';

const ranges = [
  ['12 h', 12 * 3600],
  ['48 h', 48 * 3600],
  ['7 days', 7 * 86400],
];

export async function render(root, ctx) {
  let span = 48 * 3600;
  const summary = h('div', {}, loading());
  const priceBody = h('div', {});
  const tradedBody = h('div', {});
  const tableBody = h('div', {});
  const picker = h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'time range' },
    ranges.map(([label, s]) =>
      h('button', { type: 'button', class: s === span ? 'on' : null, onclick: (e) => choose(s, e.target) }, label),
    ),
  );
  root.append(
    h('div', { class: 'title-row' }, h('h1', {}, 'History'), picker),
    card(null, {}, summary),
    card('Clearing price against the tariffs', {}, priceBody),
    card('Energy traded per interval', {}, tradedBody),
    card('Intervals', {}, tableBody),
  );

  const stepEnd = (await chainInfo()).interval_s || 3600;
  const priceChart = chart({
    testid: 'mcp-chart',
    x: 'time',
    stepEnd,
    y: { label: '€/kWh', fmt: (v) => v.toFixed(3) },
    series: [
      { label: 'MCP', color: colors.mcp, width: 2.5, step: true },
      { label: 'Grid tariff', color: colors.grid, step: true, dash: [6, 4] },
      { label: 'Feed-in tariff', color: colors.feedIn, step: true, dash: [6, 4] },
    ],
    data: [[], [], [], []],
  });
  const tradedChart = chart({
    testid: 'traded-chart',
    x: 'time',
    xPad: stepEnd / 2,
    y: { label: 'kWh', fmt: (v) => v.toFixed(1), zero: true },
    series: [
      { label: 'Traded', color: colors.traded, bars: true },
      { label: 'Wanted (bids)', color: colors.demand, width: 1.5 },
      { label: 'Available (offers)', color: colors.supply, width: 1.5 },
    ],
    data: [[], [], [], []],
  });
  ctx.cleanup(() => {
    priceChart.destroy();
    tradedChart.destroy();
  });

  const load = async () => {
    const now = Math.floor(clock.now());
    const listings = (await get(`/api/listings?from=${now - span}&to=${now}`, { signal: ctx.signal })) ?? [];
    return listings.filter((l) => l.clearing).sort((a, b) => a.start - b.start);
  };

  const show = (cleared) => {
    if (!cleared.length) {
      fill(summary, note('empty', 'No interval has cleared in this range yet.', 'history-empty'));
      fill(priceBody, note('empty', 'Nothing to chart yet.'));
      fill(tradedBody, note('empty', 'Nothing to chart yet.'));
      fill(tableBody);
      return;
    }
    const xs = cleared.map((l) => l.start);
    priceChart.update([xs, cleared.map((l) => f.toPrice(l.clearing.mcp)), cleared.map((l) => f.toPrice(l.grid_price)), cleared.map((l) => f.toPrice(l.feed_in))]);
    tradedChart.update([xs, cleared.map((l) => f.toKWh(l.clearing.traded_wh)), cleared.map((l) => f.toKWh(l.clearing.wanted_wh)), cleared.map((l) => f.toKWh(l.clearing.available_wh))]);
    if (!priceBody.contains(priceChart.el)) fill(priceBody, priceChart.el);
    if (!tradedBody.contains(tradedChart.el)) fill(tradedBody, tradedChart.el);

    const priced = cleared.filter((l) => l.clearing.mcp != null).map((l) => l.clearing.mcp);
    const traded = cleared.reduce((n, l) => n + l.clearing.traded_wh, 0);
    fill(
      summary,
      h(
        'div',
        { class: 'stats' },
        stat('Intervals cleared', f.int(cleared.length), `${f.int(priced.length)} with a clearing price`),
        stat('Mean MCP', priced.length ? f.price(Math.round(priced.reduce((a, b) => a + b, 0) / priced.length)) : '—', null, 'history-mean-mcp'),
        stat('MCP range', priced.length ? `${f.price(Math.min(...priced))} – ${f.price(Math.max(...priced))}` : '—'),
        stat('Traded', f.kWh(traded), null, 'history-traded'),
      ),
    );
    fill(
      tableBody,
      table(
        [
          { label: 'Interval', value: (l) => f.interval(l.start, l.end) },
          { label: 'State', value: (l) => l.state },
          { label: 'MCP', num: true, value: (l) => (l.clearing.mcp == null ? 'none' : f.price(l.clearing.mcp)) },
          { label: 'Traded', num: true, value: (l) => f.kWh(l.clearing.traded_wh) },
          { label: 'Wanted', num: true, value: (l) => f.kWh(l.clearing.wanted_wh) },
          { label: 'Available', num: true, value: (l) => f.kWh(l.clearing.available_wh) },
          { label: 'Grid', num: true, value: (l) => f.price(l.grid_price) },
          { label: 'Feed-in', num: true, value: (l) => f.price(l.feed_in) },
        ],
        cleared.slice().reverse(),
        { testid: 'history-table', limit: 24 },
      ),
    );
  };

  const refresh = async () => {
    try {
      show(await load());
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) fill(summary, note('error', `Could not load the history: ${err.message}`, 'page-error'));
    }
  };

  function choose(s, button) {
    span = s;
    for (const b of picker.children) b.classList.toggle('on', b === button);
    refresh();
  }

  await refresh();
  ctx.ready();

  // Each clearing adds an interval; reload at most once a second.
  const later = coalesce(refresh, 1000);
  ctx.cleanup(later.cancel);
  ctx.on('clearing', later);
}
