// Operator: the ledger's books, members, meters, gateways, the tariffs of
// the day and the market parameters.

import { h, fill, card, stat, note, table, loading } from '../dom.js';
import { get, isAbort } from '../api.js';
import { chart, colors } from '../charts.js';
import * as f from '../format.js';

export async function render(root, ctx) {
  const body = h('div', {}, loading());
  root.append(h('h1', {}, 'Operator'), body);
  let tariffs = null;
  ctx.cleanup(() => tariffs?.destroy());

  let data;
  try {
    const opt = { signal: ctx.signal };
    const [info, params, participants, meters, gateways] = await Promise.all([
      get('/api/info', opt),
      get('/api/params', opt),
      get('/api/participants', opt),
      get('/api/meters', opt),
      get('/api/gateways', opt),
    ]);
    data = { info, params, participants: participants ?? [], meters: meters ?? [], gateways: gateways ?? [] };
  } catch (err) {
    if (isAbort(err)) return;
    fill(body, note('error', `Could not load the operator view: ${err.message}`, 'page-error'));
    ctx.ready();
    return;
  }
  const { info, params, participants, meters, gateways } = data;

  const rejected = Object.entries(info.readings_rejected ?? {});
  const books = h(
    'div',
    { class: 'stats', testid: 'ledger-books' },
    stat('Money supply', f.money(info.supply), `Issued ${f.money(info.issued)}, redeemed ${f.money(info.redeemed)}.`, 'supply'),
    stat('In wallets', f.money(info.balances), `Plus ${f.money(info.escrow)} in escrow: together the supply.`),
    stat('Participants', f.int(info.participants), `${f.int(participants.filter((p) => p.role === 'member').length)} members.`),
    stat('Meters / gateways', `${f.int(info.meters)} / ${f.int(info.gateways)}`),
    stat('Listings', f.int(info.listings), `${f.int(info.open_listings)} open, ${f.int(info.unsettled)} awaiting settlement.`),
    stat('Readings', f.int(info.readings_accepted), rejected.length ? `Refused: ${rejected.map(([k, v]) => `${k} ${v}`).join(', ')}.` : 'None refused.'),
  );

  // The tariff of each local hour; the last point repeats hour 23 so its step shows.
  const hours = [...Array(25).keys()];
  const at = (arr, i) => f.toPrice(arr?.[Math.min(i, 23)]);
  tariffs = chart({
    testid: 'tariff-chart',
    x: { label: 'local hour', fmt: (v) => `${v}h` },
    y: { label: '€/kWh', fmt: (v) => v.toFixed(3) },
    series: [
      { label: 'Grid price', color: colors.grid, step: true },
      { label: 'Feed-in', color: colors.feedIn, step: true },
    ],
    data: [hours, hours.map((i) => at(params.grid_price_per_kwh, i)), hours.map((i) => at(params.feed_in_per_kwh, i))],
    height: 220,
  });

  const paramRows = [
    ['Clearing mechanism', params.mechanism],
    ['Interval', `${f.int(params.interval_s / 60)} min`],
    ['Gate closure', `${f.int(params.gate_closure_s / 60)} min before delivery`],
    ['Horizon', `${f.int(params.horizon_intervals)} intervals`],
    ['Tariff UTC offset', `${params.tariff_utc_offset_s / 3600} h`],
    ['Max transactions per member and interval', f.int(params.max_tx_per_interval)],
    ['Reading clock skew allowed', `${f.int(params.reading_skew_s)} s`],
    ['Settlement deadline', `${f.int(params.settlement_deadline_s / 60)} min after the interval`],
    ['Retention', params.retain_intervals ? `${f.int(params.retain_intervals)} intervals` : 'keep everything'],
    ['Time scale', `${f.int(info.time_scale)}× (market seconds per real second)`],
    ['Chain', info.chain_id],
  ];

  fill(
    body,
    card('Ledger books', {}, books),
    h(
      'div',
      { class: 'grid two' },
      card('Tariffs of the day', {}, tariffs.el, h('p', { class: 'muted small' }, 'What the utility charges for energy the community lacks, and pays for its surplus, by local hour.')),
      card('Parameters', { testid: 'params' }, table([{ label: 'Parameter', value: (r) => r[0] }, { label: 'Value', value: (r) => r[1] }], paramRows)),
    ),
    card(
      'Participants',
      {},
      table(
        [
          { label: 'Id', value: (p) => p.id },
          { label: 'Role', value: (p) => p.role },
          { label: 'Node type', value: (p) => p.node_type || '—' },
          { label: 'Feeder', value: (p) => p.feeder || '—' },
          { label: 'Balance', num: true, value: (p) => f.money(p.balance) },
          { label: 'Escrow', num: true, value: (p) => f.money(p.escrow) },
          { label: 'Txs', num: true, value: (p) => f.int(p.nonce) },
          { label: 'Status', value: (p) => (p.suspended ? 'suspended' : 'active') },
        ],
        participants,
        { empty: 'No participant registered.', testid: 'participants' },
      ),
    ),
    h(
      'div',
      { class: 'grid two' },
      card(
        'Meters',
        {},
        table(
          [
            { label: 'Meter', value: (m) => m.id },
            { label: 'Owner', value: (m) => m.owner },
            { label: 'RES', value: (m) => m.res || '—' },
            { label: 'Signed by', value: (m) => m.gateway || 'device' },
          ],
          meters,
          { empty: 'No meter registered.', testid: 'meters' },
        ),
      ),
      card(
        'Gateways',
        {},
        table(
          [
            { label: 'Gateway', value: (g) => g.id },
            { label: 'Owner', value: (g) => g.owner },
            { label: 'Meters', num: true, value: (g) => f.int(meters.filter((m) => m.gateway === g.id).length) },
          ],
          gateways,
          { empty: 'No gateway registered.', testid: 'gateways' },
        ),
      ),
    ),
  );
  ctx.ready();
}
