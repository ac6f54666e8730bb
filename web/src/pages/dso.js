// DSO: what each feeder imported (member detail needs the DSO's signature;
// without it the settlements' public totals), demand-response requests with
// promised against verified reduction, and RES approvals.

import { h, fill, card, stat, note, table, loading } from '../dom.js';
import { get, clock, isAbort, coalesce } from '../api.js';
import { chart, colors } from '../charts.js';
import { keyPanel } from '../keypanel.js';
import { currentKey } from '../keystore.js';
import * as f from '../format.js';

const palette = ['#1565c0', '#c62828', '#2e7d32', '#ef6c00', '#8e24aa', '#00897b', '#6d4c41', '#f9a825'];
const privileged = new Set(['dso', 'operator', 'utility']);

export async function render(root, ctx) {
  const feederBody = h('div', {}, loading());
  const drBody = h('div', {}, loading());
  const resBody = h('div', {}, loading());
  const keyEl = h('div', {});
  root.append(
    h('h1', {}, 'DSO'),
    card('Feeder load', { testid: 'feeders' }, feederBody),
    card('Demand response', { testid: 'dr' }, drBody),
    card('Generation assets (RES)', { testid: 'res' }, resBody),
    h('details', { class: 'card' }, h('summary', {}, 'Sign in as the DSO for member detail'), keyEl),
  );
  let charts = [];
  const drop = () => {
    charts.forEach((c) => c.destroy());
    charts = [];
  };
  ctx.cleanup(drop);

  const loadAll = async () => {
    const signer = await currentKey();
    const asDSO = signer && privileged.has(signer.role) ? signer : null;
    const now = Math.floor(clock.now());
    const [participants, settlements, drs, res] = await Promise.all([
      get('/api/participants', { signal: ctx.signal }),
      get(`/api/settlements?from=${now - 86400}&to=${now}`, { signal: ctx.signal, signer: asDSO }),
      get('/api/dr', { signal: ctx.signal }),
      get('/api/res', { signal: ctx.signal }),
    ]);
    if (!ctx.alive()) return;
    drop();
    showFeeders(feederBody, participants ?? [], (settlements ?? []).sort((a, b) => a.start - b.start), asDSO, charts);
    showDR(drBody, drs ?? [], charts);
    showRES(resBody, res ?? []);
  };

  const refresh = async () => {
    try {
      await loadAll();
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) fill(feederBody, note('error', `Could not load the DSO view: ${err.message}`, 'page-error'));
    }
  };
  await keyPanel(keyEl, refresh, { who: 'DSO' });
  await refresh();
  ctx.ready();

  // Settlements and DR events change the figures: reload, at most every 3 s.
  const later = coalesce(refresh, 3000);
  ctx.cleanup(later.cancel);
  ctx.on('settlement', later);
  ctx.on('dr_request', later);
  ctx.on('dr_commit', later);
}

function showFeeders(el, participants, settlements, asDSO, charts) {
  if (!settlements.length) {
    fill(el, note('empty', 'No settled interval in the last 24 hours yet.', 'feeders-empty'));
    return;
  }
  const xs = settlements.map((s) => s.start);
  const detailed = settlements.some((s) => (s.members ?? []).length);
  if (detailed) {
    const feederOf = new Map(participants.map((p) => [p.id, p.feeder || 'no feeder']));
    const feeders = [...new Set(settlements.flatMap((s) => (s.members ?? []).map((m) => feederOf.get(m.id) ?? 'no feeder')))].sort();
    const imp = (s, fd) => (s.members ?? []).filter((m) => (feederOf.get(m.id) ?? 'no feeder') === fd).reduce((n, m) => n + m.import_wh, 0);
    const c = chart({
      testid: 'feeder-chart',
      x: 'time',
      stepEnd: settlements[0].end - settlements[0].start,
      y: { label: 'kWh imported', fmt: (v) => v.toFixed(1), zero: true },
      series: feeders.map((fd, i) => ({ label: fd, color: palette[i % palette.length], step: true })),
      data: [xs, ...feeders.map((fd) => settlements.map((s) => f.toKWh(imp(s, fd))))],
    });
    charts.push(c);
    const peak = (fd) => Math.max(...settlements.map((s) => imp(s, fd)));
    fill(
      el,
      h('p', { class: 'muted small' }, `Metered import per feeder, from the members' settlements (signed as ${asDSO?.id ?? 'a privileged participant'}).`),
      c.el,
      table(
        [
          { label: 'Feeder', value: (fd) => fd },
          { label: 'Members', num: true, value: (fd) => f.int(participants.filter((p) => (p.feeder || 'no feeder') === fd && p.role === 'member').length) },
          { label: 'Import (24 h)', num: true, value: (fd) => f.kWh(settlements.reduce((n, s) => n + imp(s, fd), 0)) },
          { label: 'Peak interval', num: true, value: (fd) => f.kWh(peak(fd)) },
        ],
        feeders,
        { testid: 'feeder-table' },
      ),
    );
    return;
  }
  // Public view: the settlements' totals only.
  const col = (k) => settlements.map((s) => f.toKWh(s.totals?.[k]));
  const c = chart({
    testid: 'settlement-chart',
    x: 'time',
    stepEnd: settlements[0].end - settlements[0].start,
    y: { label: 'kWh', fmt: (v) => v.toFixed(1), zero: true },
    series: [
      { label: 'Tokens minted (generation)', color: colors.gen, step: true },
      { label: 'Delivered P2P', color: colors.p2p, step: true },
      { label: 'Exported to the utility', color: colors.export, step: true },
    ],
    data: [xs, col('minted_wh'), col('transferred_wh'), col('exported_wh')],
  });
  charts.push(c);
  const missing = settlements.reduce((n, s) => n + (s.missing ?? []).length, 0);
  fill(
    el,
    note('info', 'Member detail (import per feeder) needs a request signed by the DSO: import its key below. Showing the public settlement totals.', 'feeders-public'),
    c.el,
    h('div', { class: 'stats' },
      stat('Intervals settled', f.int(settlements.length)),
      stat('Generation metered', f.kWh(settlements.reduce((n, s) => n + (s.totals?.minted_wh ?? 0), 0))),
      stat('Paid to the utility', f.money(settlements.reduce((n, s) => n + (s.totals?.to_utility ?? 0), 0))),
      stat('Missing readings', f.int(missing), 'Meters that had not reported by the settlement deadline.'),
    ),
  );
}

const total = (arr) => (arr ?? []).reduce((n, v) => n + v, 0);

function showDR(el, drs, charts) {
  if (!drs.length) {
    fill(el, note('empty', 'No demand-response request yet.', 'dr-empty'));
    return;
  }
  const rows = drs.slice().sort((a, b) => b.start - a.start);
  const sums = (r) => {
    const commits = Object.values(r.commits ?? {});
    return { promised: commits.reduce((n, c) => n + total(c.promised_wh), 0), verified: commits.reduce((n, c) => n + total(c.verified_wh), 0), members: commits.length };
  };
  // One group of bars per request (several may share a start).
  const recent = rows.slice(0, 12).reverse();
  const c = chart({
    testid: 'dr-chart',
    x: { label: 'request', space: 120, fmt: (v) => (Number.isInteger(v) && recent[v] ? recent[v].id : '') },
    xPad: 0.5,
    y: { label: 'kWh', fmt: (v) => v.toFixed(1), zero: true },
    series: [
      // Layered bars, widest at the back: asked, promised, verified.
      { label: 'Asked', color: '#b0bec5', bars: 0.9 },
      { label: 'Promised', color: colors.promised, bars: 0.6 },
      { label: 'Verified', color: colors.verified, bars: 0.3 },
    ],
    data: [recent.map((r, i) => i), recent.map((r) => f.toKWh(r.reduction_wh * ((r.end - r.start) / r.interval_s || 1))), recent.map((r) => f.toKWh(sums(r).promised)), recent.map((r) => f.toKWh(sums(r).verified))],
  });
  charts.push(c);
  fill(
    el,
    h('p', { class: 'muted small' }, 'Reduction asked, promised by the members who committed, and verified by the meters against the plans committed before the request.'),
    c.el,
    table(
      [
        { label: 'Request', value: (r) => r.id },
        { label: 'Intervals', value: (r) => `${f.interval(r.start)}–${f.hour(r.end)}` },
        { label: 'Feeder', value: (r) => r.feeder || 'all' },
        { label: 'Asked', num: true, value: (r) => `${f.kW(r.reduction_w)}` },
        { label: 'Incentive', num: true, value: (r) => f.price(r.incentive) },
        { label: 'Members', num: true, value: (r) => f.int(sums(r).members) },
        { label: 'Promised', num: true, value: (r) => f.kWh(sums(r).promised) },
        { label: 'Verified', num: true, value: (r) => f.kWh(sums(r).verified) },
        { label: 'Paid', num: true, value: (r) => f.money(r.paid) },
        { label: 'State', value: (r) => r.state },
      ],
      rows,
      { testid: 'dr-table' },
    ),
  );
}

function showRES(el, res) {
  const cols = [
    { label: 'RES', value: (r) => r.id },
    { label: 'Owner', value: (r) => r.owner },
    { label: 'Kind', value: (r) => r.kind },
    { label: 'Capacity', num: true, value: (r) => f.kW(r.capacity_w) },
    { label: 'Approved by', value: (r) => r.approved_by || '—' },
  ];
  const pending = res.filter((r) => !r.approved);
  const approved = res.filter((r) => r.approved);
  fill(
    el,
    h('div', { class: 'stats' },
      stat('Approved', f.int(approved.length), `${f.kW(approved.reduce((n, r) => n + r.capacity_w, 0))} of capacity may mint energy tokens.`, 'res-approved-count'),
      stat('Pending', f.int(pending.length), 'Registered, waiting for the DSO’s approval.', 'res-pending-count'),
    ),
    h('h3', {}, 'Pending approval'),
    table(cols, pending, { empty: 'No asset is waiting for approval.', testid: 'res-pending' }),
    h('h3', {}, 'Approved'),
    table(cols, approved, { empty: 'No approved asset yet.', testid: 'res-approved' }),
  );
}
