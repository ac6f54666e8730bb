// Community: load and generation with and without demand response, and the
// KPIs of docs/kpis.md, each with one line saying what it tells.

import { h, fill, card, stat, note, loading } from '../dom.js';
import { get, isAbort, coalesce } from '../api.js';
import { chart, colors } from '../charts.js';
import * as f from '../format.js';

// [label, format(community), explanation]
const kpis = [
  ['Self-sufficiency', (c) => f.pct(c.self_sufficiency), "Share of the community's consumption met by its own production.", 'kpi-self-sufficiency'],
  ['Self-consumption', (c) => f.pct(c.self_consumption), "Share of the community's production used inside the community."],
  ['P2P share', (c) => f.pct(c.p2p_share), 'Share of consumption delivered by other members through the market.', 'kpi-p2p-share'],
  ['Savings', (c) => `${f.money(c.savings_nano)} (${f.pct(c.savings_pct == null ? null : c.savings_pct / 100)})`, 'What the market and demand response saved the members against the utility alone.', 'kpi-savings'],
  ['Fairness (Gini)', (c) => (c.fairness_gini == null ? '—' : c.fairness_gini.toFixed(3)), '0 when every member saves alike per kWh; near 1 when one member takes it all.', 'kpi-gini'],
  ['Better off', (c) => `${f.int(c.members_saving)} of ${f.int(c.members)}`, (c) => `Members who saved against the utility alone; ${f.int(c.members_losing)} lost.`, 'kpi-better-off'],
  ['Members losing', (c) => f.int(c.members_losing), 'Members the market cost more than the utility alone would have.'],
  ['Average price paid', (c) => f.price(c.avg_price_paid_per_kwh), (c) => `Per kWh bought, against ${f.price(c.avg_grid_price_per_kwh)} at the grid tariff.`],
  ['Average price received', (c) => f.price(c.avg_price_received_per_kwh), (c) => `Per kWh sold, against ${f.price(c.avg_feed_in_per_kwh)} at the feed-in tariff.`],
  ['Mean MCP', (c) => f.price(c.mean_mcp_per_kwh), (c) => `Clearing price, from ${f.price(c.min_mcp_per_kwh)} to ${f.price(c.max_mcp_per_kwh)}.`],
  ['P2P traded', (c) => f.kWh(c.p2p_traded_wh), (c) => `Bought from members at clearing; ${f.kWh(c.p2p_delivered_wh)} delivered.`],
  ['Grid import / export', (c) => `${f.kWh(c.grid_import_wh)} / ${f.kWh(c.grid_export_wh)}`, 'Energy bought from and sold to the utility.'],
  ['Netted between members', (c) => f.kWh(c.pool_wh), 'Deviations from the traded positions the settlement netted inside the community instead of with the utility.'],
  ['Peak import', (c) => f.kWh(c.peak_import_wh), (c) => `Highest hourly net import; ${f.kWh(c.peak_import_no_dr_wh)} without demand response.`],
  ['DR peak reduction', (c) => f.kWh(c.peak_reduction_dr_wh), 'What demand response took off the peak the feeder carries.'],
  ['DR verified', (c) => f.kWh(c.dr_verified_wh), (c) => `Reduction the meters confirmed; ${f.money(c.dr_incentive_nano)} paid in incentives.`],
  ['Forecast error (load)', (c) => f.pct(c.forecast_nmae_load), "Normalised mean absolute error of the EMSs' day-ahead load forecasts."],
  ['Forecast error (PV)', (c) => f.pct(c.forecast_nmae_pv), "Normalised mean absolute error of the EMSs' day-ahead PV forecasts."],
  ['Ledger per member-year', (c) => (c.ledger_bytes_per_member_year == null ? '—' : `${f.int(Math.round(c.ledger_bytes_per_member_year / 1024))} KiB`), 'Storage each member costs a validator per year.'],
];

export async function render(root, ctx) {
  const head = h('p', { class: 'muted' }, loading());
  const energyBody = h('div', {});
  const gridBody = h('div', {});
  const kpiBody = h('div', {}, loading());
  root.append(
    h('h1', {}, 'Community'),
    head,
    card('Load and generation, with and without demand response', {}, energyBody),
    card('Where the energy came from', {}, gridBody),
    card('Key figures', { testid: 'kpis' }, kpiBody),
  );
  const energy = chart({
    testid: 'energy-chart',
    x: 'time',
    y: { label: 'kWh per interval', fmt: (v) => v.toFixed(1), zero: true },
    series: [
      { label: 'Load', color: colors.load, width: 2.5 },
      { label: 'Load without DR', color: colors.loadNoDR, dash: [6, 4] },
      { label: 'Generation', color: colors.gen, fill: colors.gen + '22' },
    ],
    data: [[], [], [], []],
  });
  const flows = chart({
    testid: 'flows-chart',
    x: 'time',
    y: { label: 'kWh per interval', fmt: (v) => v.toFixed(1), zero: true },
    series: [
      { label: 'From members (P2P)', color: colors.p2p },
      { label: 'Grid import', color: colors.import },
      { label: 'Grid export', color: colors.export },
    ],
    data: [[], [], [], []],
  });
  ctx.cleanup(() => {
    energy.destroy();
    flows.destroy();
  });

  const show = (k) => {
    const c = k?.community;
    const hours = (k?.hours ?? []).slice().sort((a, b) => a.start - b.start);
    fill(
      head,
      k?.source === 'simulation'
        ? `The ${f.int(k?.intervals ?? 0)} intervals the ledger has settled, with what the simulated sites really used and made (their load without demand response is known only to the simulation).`
        : `The ${f.int(k?.intervals ?? 0)} intervals the ledger settled in the last 7 days, from the meters' readings.`,
    );
    if (!hours.length) {
      fill(energyBody, note('empty', 'No settled interval yet: load and generation appear once delivery is metered and settled.', 'community-empty'));
      fill(gridBody, note('empty', 'Nothing settled yet.'));
    } else {
      const xs = hours.map((p) => p.start);
      const col = (key) => hours.map((p) => f.toKWh(p[key]));
      energy.update([xs, col('load_wh'), col('load_no_dr_wh'), col('generation_wh')]);
      flows.update([xs, col('p2p_wh'), col('grid_import_wh'), col('grid_export_wh')]);
      if (!energyBody.contains(energy.el)) fill(energyBody, energy.el);
      if (!gridBody.contains(flows.el)) fill(gridBody, flows.el);
    }
    if (!c) {
      fill(kpiBody, note('empty', 'No KPIs yet.'));
      return;
    }
    fill(
      kpiBody,
      h(
        'div',
        { class: 'stats kpis' },
        stat('Members', f.int(c.members), `${f.int(c.intervals_cleared)} of ${f.int(c.intervals)} intervals cleared with a price.`),
        kpis.map(([label, value, help, testid]) => stat(label, value(c), typeof help === 'function' ? help(c) : help, testid)),
      ),
    );
  };

  const refresh = async () => {
    try {
      show(await get('/api/kpis', { signal: ctx.signal }));
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) fill(kpiBody, note('error', `Could not load the KPIs: ${err.message}`, 'page-error'));
      if (!isAbort(err)) fill(head, '');
    }
  };
  await refresh();
  ctx.ready();

  // New settlements change the figures; reload at most every 5 s.
  const later = coalesce(refresh, 5000);
  ctx.cleanup(later.cancel);
  ctx.on('settlement', later);
}
