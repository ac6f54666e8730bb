// Member: a member's own wallet, trades, energy tokens, savings and advice,
// its battery's plan, its meters' readings live, and an order form that
// signs in the browser.
// Private reads are signed requests; without a key there is only the prompt.

import { h, fill, card, stat, note, table, loading } from '../dom.js';
import { chart, colors } from '../charts.js';
import { get, postTx, chainInfo, clock, signedStream, isAbort, ApiError, coalesce } from '../api.js';
import { buildTx } from '../sign.js';
import { keyPanel } from '../keypanel.js';
import * as f from '../format.js';

// Orders placed from this page, followed across page visits until cleared.
const tracked = [];

export async function render(root, ctx) {
  const keyEl = h('div', {});
  const body = h('div', {});
  root.append(h('h1', {}, 'Member'), card('Your key', { testid: 'key-panel' }, keyEl), body);

  let sub = null; // what the shown member's view set up, undone on a key change
  ctx.cleanup(() => sub?.dispose());

  const load = async (signer) => {
    sub?.dispose();
    sub = scope(ctx);
    const mine = sub;
    if (!signer) {
      fill(body, note('info', 'Import your key above to see your wallet, trades, energy tokens and advice, and to place bids and offers.', 'member-need-key'));
      ctx.ready();
      return;
    }
    fill(body, loading(`Loading ${signer.id}'s data…`));
    try {
      await showMember(body, mine, signer);
    } catch (err) {
      if (isAbort(err) || !mine.alive()) return;
      fill(body, refusal(err, signer));
    }
    if (mine.alive()) ctx.ready();
  };

  const signer = await keyPanel(keyEl, load);
  await load(signer);
}

/**
 * A page context whose subscriptions, timers and cleanups can be undone on
 * their own: the view of one key, replaced when the key changes.
 */
function scope(ctx) {
  const undo = [];
  let live = true;
  return {
    ...ctx,
    alive: () => live && ctx.alive(),
    on: (event, fn) => {
      const off = ctx.on(event, (d) => live && fn(d));
      undo.push(off);
      return off;
    },
    every: (ms, fn) => {
      const t = setInterval(() => live && ctx.alive() && fn(), ms);
      undo.push(() => clearInterval(t));
    },
    cleanup: (fn) => undo.push(fn),
    dispose: () => {
      live = false;
      for (const fn of undo.splice(0)) fn();
    },
  };
}

/** What to show when the ledger refuses to tell us. */
function refusal(err, signer) {
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    const why =
      err.status === 401
        ? `The ledger did not accept this key's signature for ${signer.id} (${err.apiName}): it is not the key registered for ${signer.id}.`
        : `This key may not read ${signer.id}'s data (${err.apiName}).`;
    return note('error', `Refused: ${why} ${err.message}`, 'member-refused');
  }
  if (err instanceof ApiError && err.status === 404) {
    return h(
      'div',
      { testid: 'member-unknown' },
      note('error', `${signer.id} is not a participant of this ledger yet.`),
      h('p', {}, 'If this is a new key, ask the operator to register it with this public key: ', h('code', { class: 'break' }, signer.pub)),
    );
  }
  return note('error', `Could not load your data: ${err.message}`, 'page-error');
}

async function showMember(body, ctx, signer) {
  const id = encodeURIComponent(signer.id);
  const now = Math.floor(clock.now());
  const opt = { signal: ctx.signal };
  const signed = { signal: ctx.signal, signer };
  // The statement goes first: its refusal (401/403) is the page's answer.
  const statement = await get(`/api/members/${id}/statement?from=${now - 7 * 86400}&to=${now + 86400}`, signed);
  const [participant, res, batteries, open, trades, advice, readings] = await Promise.all([
    get(`/api/participants/${id}`, opt),
    get('/api/res', opt),
    get('/api/batteries', opt),
    get('/api/listings/open', opt),
    get(`/api/trades?from=${now - 2 * 86400}&to=${now + 86400}&participant=${id}`, opt),
    get(`/api/members/${id}/advice`, signed).catch((err) => (isAbort(err) ? Promise.reject(err) : { error: err })),
    get(`/api/members/${id}/readings?from=${now - 6 * 3600}&to=${now + 3600}`, signed),
  ]);
  if (!ctx.alive()) return;

  const wallet = h('div', { class: 'stats', testid: 'wallet' });
  const showWallet = (p) =>
    fill(
      wallet,
      stat('Balance', f.money(p.balance), 'Spendable.', 'wallet-balance'),
      stat('Escrow', f.money(p.escrow), 'Locked in open bids.', 'wallet-escrow'),
      stat('Role', `${p.role}${p.node_type ? ` · ${p.node_type}` : ''}`, p.feeder ? `Feeder ${p.feeder}` : null),
      stat('Transactions signed', f.int(p.nonce), p.suspended ? 'Suspended by the operator.' : null),
    );
  showWallet(participant);

  const myRES = (res ?? []).filter((r) => r.owner === signer.id);
  const form = orderForm(ctx, signer, open ?? [], myRES, advice?.error ? null : advice, (p) => showWallet(p));
  const readingsEl = h('div', {});
  let received = 0;
  const liveCount = h('span', { testid: 'readings-live-count' }, '0');
  const liveReadings = (readings ?? []).slice().sort((a, b) => b.time - a.time).slice(0, 20);
  const showReadings = () =>
    fill(
      readingsEl,
      table(
        [
          { label: 'Meter', value: (r) => r.meter },
          { label: 'Time', value: (r) => f.time(r.time) },
          { label: 'Import', num: true, value: (r) => f.kWh(r.import_wh) },
          { label: 'Export', num: true, value: (r) => f.kWh(r.export_wh) },
          { label: 'Production', num: true, value: (r) => f.kWh(r.production_wh) },
          { label: 'Signed by', value: (r) => r.signed_by ?? '—' },
        ],
        liveReadings,
        { empty: 'No readings from your meters yet.', testid: 'readings-live' },
      ),
    );
  showReadings();

  const myBatteries = (batteries ?? []).filter((b) => b.owner === signer.id);
  fill(
    body,
    card('Wallet', {}, wallet),
    myBatteries.length ? card('Battery', { testid: 'battery' }, batteryPanel(ctx, signer, myBatteries)) : null,
    card('Place a bid or an offer', { testid: 'order-card' }, form),
    h('div', { class: 'grid two' }, card('Energy tokens', {}, tokens(statement ?? [])), card('Savings and advice', { testid: 'advice' }, adviceView(advice))),
    card('Your trades (48 h)', {}, tradesTable(trades ?? [], signer.id)),
    card(
      'Your meters, live',
      {},
      h('p', { class: 'muted small' }, 'Cumulative registers of the readings your meters signed, as they reach the ledger: ', liveCount, ' received live since this page opened.'),
      readingsEl,
    ),
    card('Statement (7 days)', {}, statementTable(statement ?? [])),
  );

  // A signed subscription: only this member's readings reach this page.
  ctx.cleanup(
    signedStream(signer, ['reading'], (name, r) => {
      if (!ctx.alive()) return;
      if (name === 'revoked') {
        liveCount.textContent = `${f.int(received)} (stream closed: ${r.reason ?? 'revoked'})`;
        return;
      }
      received++;
      liveCount.textContent = f.int(received);
      liveReadings.unshift(r);
      liveReadings.length = Math.min(liveReadings.length, 20);
      showReadings();
    }),
  );
  // The wallet changes with the blocks that touch the member's orders:
  // follow them, reading it at most every 2 s (on error the last figures stay).
  const refreshWallet = coalesce(async () => showWallet(await get(`/api/participants/${id}`, opt)), 2000);
  ctx.cleanup(refreshWallet.cancel);
  ctx.on('block', refreshWallet);
}

/**
 * The member's battery: its ratings, and what the member's committed plans
 * say it will do in the coming 24 hours: the energy into (+) and out of (−)
 * it per interval, grid side, as bars, and its state of charge at each
 * interval's end as a line, in kWh and in % of capacity, the current
 * interval shaded. Plans are private: read with the member's signature,
 * again when the member commits a plan and when an interval begins.
 */
function batteryPanel(ctx, signer, batteries) {
  const id = encodeURIComponent(signer.id);
  const sum = (k) => batteries.reduce((n, b) => n + b[k], 0);
  const capWh = sum('capacity_wh');
  const capKWh = capWh / 1000;
  const waiting = batteries.filter((b) => !b.approved);
  let socNow = stat('Planned state of charge', '…', null, 'battery-soc-now');
  const planEl = h('div', {}, loading('Loading the battery’s plan…'));
  const soc = (wh) => `${f.kWh(wh)} (${f.pct(wh / capWh)})`;

  let iv = 3600;
  let plot = null; // the chart, made with the first plan to draw
  let shownInterval = null;
  const refresh = async () => {
    iv = (await chainInfo()).interval_s || iv;
    const n = Math.round(86400 / iv);
    const from = Math.floor(clock.now() / iv) * iv;
    shownInterval = from;
    // The interval before the current one, for the state of charge now.
    const plans = await get(`/api/members/${id}/plans?from=${from - iv}&to=${from + n * iv}`, { signal: ctx.signal, signer });
    if (!ctx.alive()) return;
    // The ledger leaves out zeros (an idle or empty battery): 0 when has_battery.
    const at = new Map(
      (plans ?? []).filter((p) => p.has_battery).map((p) => [p.start, { wh: p.battery_wh ?? 0, soc: p.battery_soc_wh ?? 0 }]),
    );
    const cur = at.get(from);
    const next = stat(
      'Planned state of charge',
      cur ? soc(cur.soc) : '—',
      cur ? `At the end of ${f.interval(from, from + iv)}.` : 'No plan for the current interval.',
      'battery-soc-now',
    );
    socNow.replaceWith(next);
    socNow = next;
    const planned = [...at.keys()].filter((t) => t >= from);
    if (!planned.length) {
      plot?.destroy();
      plot = null;
      fill(
        planEl,
        note(
          'empty',
          'No plan for the battery yet: none of your committed plans for the next 24 hours schedules it. ' +
            'Your EMS sends the battery’s charge and state of charge with the plan it commits for each day, before the day begins.',
          'battery-no-plan',
        ),
      );
      return;
    }
    // x: interval boundaries. A bar starts at its interval; the state of
    // charge is the level at each boundary (the end of the interval before).
    const xs = Array.from({ length: n + 1 }, (_, i) => from + i * iv);
    const bars = xs.map((x, i) => (i < n && at.has(x) ? at.get(x).wh / 1000 : null));
    const socs = xs.map((x) => (at.has(x - iv) ? at.get(x - iv).soc / 1000 : null));
    const mark = [from, from + iv];
    if (plot) {
      plot.update([xs, bars, socs], mark);
      return;
    }
    plot = chart({
      testid: 'battery-chart',
      title: 'The battery’s planned charge and discharge and its state of charge',
      x: 'time',
      y: {
        label: 'kWh',
        fmt: (v) => v.toFixed(1),
        // From the largest discharge to the full battery.
        range: (u, min, max) => [Math.min(0, min ?? 0) * 1.08, Math.max(capKWh, max ?? 0) * 1.08],
      },
      y2: { label: '% of capacity', splits: [0, 0.25, 0.5, 0.75, 1].map((r) => r * capKWh), fmt: (v) => `${Math.round((v / capKWh) * 100)} %` },
      series: [
        { label: `Charge (+) / discharge (−) per ${iv === 3600 ? 'hour' : 'interval'}, kWh`, color: colors.charge, bars: 0.9, barAlign: 1 },
        { label: 'State of charge, kWh', color: colors.soc, width: 2.5 },
      ],
      data: [xs, bars, socs],
      mark,
    });
    fill(
      planEl,
      h(
        'p',
        { class: 'muted small' },
        'From your committed plans: the energy into (+) and out of (−) the battery, grid side, and its state of charge at the end of each interval. The current interval is shaded.',
      ),
      plot.el,
    );
  };
  const later = coalesce(async () => {
    try {
      await refresh();
    } catch (err) {
      // Keep the last chart; without one, say why there is none.
      if (!isAbort(err) && ctx.alive() && !plot) fill(planEl, note('error', `Could not load the battery’s plan: ${err.message}`, 'battery-error'));
    }
  }, 1000);
  ctx.cleanup(() => {
    later.cancel();
    plot?.destroy();
  });
  later();
  // A plan the member commits, or the next interval beginning.
  ctx.on('plan', (d) => d.member === signer.id && later());
  ctx.every(1000, () => shownInterval !== null && Math.floor(clock.now() / iv) * iv !== shownInterval && later());

  return h(
    'div',
    {},
    h(
      'div',
      { class: 'stats' },
      stat('Capacity', f.kWh(capWh), batteries.map((b) => b.id).join(', '), 'battery-capacity'),
      stat('Charge / discharge', `${f.kW(sum('max_charge_w'))} / ${f.kW(sum('max_discharge_w'))}`, 'The most power in and out.', 'battery-power'),
      stat(
        'Approval',
        waiting.length ? 'Waiting' : 'Approved',
        waiting.length ? `The DSO has yet to approve ${waiting.map((b) => b.id).join(', ')}.` : `By ${[...new Set(batteries.map((b) => b.approved_by))].join(', ')}.`,
        'battery-approval',
      ),
      socNow,
    ),
    planEl,
  );
}

function tokens(rows) {
  const sum = (k) => rows.reduce((n, r) => n + (r[k] ?? 0), 0);
  return h(
    'div',
    { class: 'stats', testid: 'tokens' },
    stat('Minted', f.kWh(sum('tokens_minted')), 'From your approved RES, 1 token per Wh.'),
    stat('Received', f.kWh(sum('tokens_received')), 'Delivered to you by sellers.'),
    stat('Sent', f.kWh(sum('tokens_sent')), 'Delivered by you to buyers.'),
    stat('Retired', f.kWh(sum('tokens_retired') + sum('tokens_self_retired')), `${f.kWh(sum('tokens_self_retired'))} used on site, the rest against your import.`),
  );
}

function adviceView(a) {
  if (!a) return note('empty', 'No advice yet.');
  if (a.error) return note('error', `Advice unavailable: ${a.error.message}`);
  return h(
    'div',
    {},
    h(
      'div',
      { class: 'stats' },
      stat('Saved', f.money(a.saved), `Against the utility alone over ${f.int(a.intervals)} intervals.`, 'advice-saved'),
      stat('Net', f.money(a.net), `Utility alone: ${f.money(a.utility_only)}.`),
      stat('DR incentives', f.money(a.dr_incentive)),
      stat(
        'Deviations',
        f.money(a.deviations_net),
        'What settling what you used and made against what you traded earned (+) or cost (−) you this month, with the utility and other members.',
        'advice-deviations',
      ),
      stat(
        'Netted in the community',
        f.kWh(a.netted_wh),
        `Of your deviations, ${f.kWh(a.pool_import_wh)} bought from and ${f.kWh(a.pool_export_wh)} sold to other members instead of the utility: worth ${f.money(a.pool_value)} against the tariffs.`,
        'advice-netted',
      ),
      stat('Suggested bid', f.price(a.suggested_bid), a.next_listing ? `For ${f.interval(a.next_listing)}.` : null),
      stat('Suggested offer', f.price(a.suggested_offer)),
      stat('Market', a.market?.cleared ? `MCP ${f.price(a.market.mean_mcp)}` : '—', a.market ? `${f.int(a.market.cleared)} of ${f.int(a.market.listings)} recent listings cleared with a price.` : null),
    ),
    (a.shifts ?? []).length
      ? table(
          [
            { label: 'Appliance', value: (s) => s.appliance },
            { label: 'Usually at', value: (s) => (s.naive_hours ?? []).map((x) => `${x}h`).join(' ') },
            { label: 'Best at', value: (s) => (s.best_hours ?? []).map((x) => `${x}h`).join(' ') },
            { label: 'Saves / day', num: true, value: (s) => f.money(s.saving_per_day) },
          ],
          a.shifts,
        )
      : null,
  );
}

function tradesTable(trades, me) {
  return table(
    [
      { label: 'Interval', value: (t) => f.interval(t.listing) },
      { label: 'Side', value: (t) => (t.buyer === me ? 'bought' : 'sold') },
      { label: 'With', value: (t) => (t.buyer === me ? t.seller : t.buyer) },
      { label: 'Energy', num: true, value: (t) => f.kWh(t.wh) },
      { label: 'Price', num: true, value: (t) => f.price(t.price) },
      { label: 'Value', num: true, value: (t) => f.money(t.value) },
    ],
    trades.slice().sort((a, b) => b.listing - a.listing),
    { empty: 'No trades in the last 48 hours.', testid: 'member-trades', limit: 24 },
  );
}

function statementTable(rows) {
  return table(
    [
      { label: 'Interval', value: (r) => f.interval(r.interval) },
      { label: 'Import', num: true, value: (r) => f.kWh(r.import_wh) },
      { label: 'Export', num: true, value: (r) => f.kWh(r.export_wh) },
      { label: 'Bought', num: true, value: (r) => f.kWh(r.bought_wh) },
      { label: 'Sold', num: true, value: (r) => f.kWh(r.sold_wh) },
      { label: 'MCP', num: true, value: (r) => f.price(r.mcp) },
      { label: 'Net', num: true, value: (r) => f.money(r.net) },
      { label: 'Saved', num: true, value: (r) => f.money(r.net - r.utility_only) },
    ],
    rows.slice().sort((a, b) => b.interval - a.interval),
    { empty: 'No settled interval yet.', testid: 'statement', limit: 24 },
  );
}

/** The bid/offer form: signs here, posts to /api/txs, follows the order. */
function orderForm(ctx, signer, open, myRES, advice, onWallet) {
  const status = h('ol', { class: 'order-status', testid: 'order-status', 'aria-live': 'polite' });
  const side = h('select', { name: 'side', testid: 'order-side', id: 'order-side' }, h('option', { value: 'bid' }, 'Bid (buy)'), h('option', { value: 'offer' }, 'Offer (sell)'));
  const listing = h('select', { name: 'listing', testid: 'order-listing', id: 'order-listing' });
  const kwh = h('input', { type: 'number', name: 'kwh', min: '0.001', step: '0.001', value: '1.000', required: true, testid: 'order-kwh', id: 'order-kwh', inputmode: 'decimal' });
  const priceIn = h('input', { type: 'number', name: 'price', min: '0', step: '0.0001', required: true, testid: 'order-price', id: 'order-price', inputmode: 'decimal' });
  const approved = myRES.filter((r) => r.approved);
  const resSel = h('select', { name: 'res', testid: 'order-res', id: 'order-res' }, approved.map((r) => h('option', { value: r.id }, `${r.id} (${r.kind}, ${f.kW(r.capacity_w)})`)));
  const resRow = h('div', { class: 'field', hidden: true }, h('label', { for: 'order-res' }, 'From RES'), resSel);
  const submit = h('button', { type: 'submit', testid: 'order-submit' }, 'Sign and send');

  // Listings whose gate is far enough ahead for the order to make a block.
  // The options are rebuilt only when that set changes, so an open
  // drop-down is not yanked away every second.
  let shown = '';
  const fillListings = () => {
    const usable = open.filter((l) => l.state === 'AUTHORIZE_OFFERS' && clock.realUntil(l.gate_closure) > 2).sort((a, b) => a.start - b.start);
    const key = usable.map((l) => l.start).join();
    if (key === shown) return;
    shown = key;
    const keep = listing.value;
    fill(listing, usable.map((l) => h('option', { value: String(l.start) }, f.interval(l.start, l.end))));
    if (usable.some((l) => String(l.start) === keep)) listing.value = keep;
    submit.disabled = usable.length === 0;
  };
  // New listings open every interval.
  let fetching = false;
  ctx.on('listing_opened', async () => {
    if (fetching) return;
    fetching = true;
    try {
      open = (await get('/api/listings/open', { signal: ctx.signal })) ?? open;
      fillListings();
    } catch {
      /* keep the listings we have */
    } finally {
      fetching = false;
    }
  });
  const suggest = () => {
    const isBid = side.value === 'bid';
    resRow.hidden = isBid;
    const p = isBid ? advice?.suggested_bid : advice?.suggested_offer;
    const l = open.find((x) => String(x.start) === listing.value);
    const fallback = l ? (isBid ? l.grid_price : l.feed_in) : null;
    const v = p > 0 ? p : fallback;
    if (Number.isFinite(v)) priceIn.value = (v / 1e6).toFixed(4);
  };
  side.addEventListener('change', suggest);
  fillListings();
  suggest();
  ctx.every(1000, fillListings);

  const line = (text, kind = 'info', testid) => {
    const li = h('li', { class: `st-${kind}`, testid }, text);
    status.append(li);
    return li;
  };

  const form = h(
    'form',
    {
      class: 'order-form',
      testid: 'order-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const wh = Math.round(Number(kwh.value) * 1000);
        const price = Math.round(Number(priceIn.value) * 1e6);
        const start = Number(listing.value);
        if (!(wh > 0) || !(price >= 0) || !start) return line('Enter a listing, a quantity above 0 and a price.', 'error');
        if (side.value === 'offer' && !resSel.value) return line('You have no approved RES to offer from.', 'error');
        const type = side.value;
        const msg = type === 'bid' ? { listing: start, wh, price } : { listing: start, res: resSel.value, wh, price };
        const gate = open.find((l) => l.start === start)?.gate_closure ?? start;
        submit.disabled = true;
        try {
          await place(ctx, signer, type, msg, gate, line, onWallet);
        } finally {
          submit.disabled = false;
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'order-side' }, 'Side'), side),
    h('div', { class: 'field' }, h('label', { for: 'order-listing' }, 'Delivery interval'), listing),
    h('div', { class: 'field' }, h('label', { for: 'order-kwh' }, 'Energy (kWh)'), kwh),
    h('div', { class: 'field' }, h('label', { for: 'order-price' }, `Price (${f.currency}/kWh)`), priceIn),
    resRow,
    h('div', { class: 'field actions' }, submit),
  );
  const parts = [form, status];
  if (!approved.length) parts.push(h('p', { class: 'muted small' }, myRES.length ? 'Your RES is waiting for the DSO’s approval: you can bid, not offer yet.' : 'You have no registered RES: you can bid, not offer.'));
  // Orders placed earlier in this session keep reporting here.
  for (const t of tracked) line(t.summary, t.kind);
  return h('div', {}, parts);
}

/**
 * Signs and sends an order, then reports it entering the book (from the
 * stream's order event, or the commit answer, whichever comes first) and
 * its clearing. The member's EMS signs with the same key, so the nonce can
 * be taken between reading and sending: on a replay refusal, read it again
 * and retry once.
 */
async function place(ctx, signer, type, msg, gate, line, onWallet) {
  const info = await chainInfo();
  const id = encodeURIComponent(signer.id);
  const what = (orderId) => `${type} ${orderId}: ${f.kWh(msg.wh)} at ${f.price(msg.price)} for ${f.interval(msg.listing)}`;
  let shown = false;
  const inBook = (orderId, height) => {
    if (shown) return;
    shown = true;
    line(`In block ${f.int(height)}: order ${orderId} is in the book.`, 'ok', 'order-in-block');
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    const p = await get(`/api/participants/${id}`, { signal: ctx.signal });
    const nonce = p.nonce + 1;
    const orderId = `${signer.id}/${nonce}`;
    const tx = await buildTx(signer, info.chain_id, { registered: p.registered, nonce }, type, msg);
    // Listen before sending: the event may beat the answer.
    const off = ctx.on('order', (o) => {
      if ((o.id ?? o.order) === orderId) inBook(orderId, o.height);
    });
    const sent = line(`Signed ${what(orderId)}; sending…`, 'info');
    let res;
    try {
      res = await postTx(tx, { wait: true });
    } catch (err) {
      off();
      sent.remove();
      if (err instanceof ApiError && err.apiName === 'replay' && attempt === 0) continue;
      line(`Refused: ${err.message}${err.apiName ? ` (${err.apiName})` : ''}`, 'error', 'order-error');
      return;
    }
    sent.className = 'st-ok';
    sent.dataset.testid = 'order-sent';
    fill(sent, `Signed and sent ${what(orderId)}. `, h('a', { href: `#/explorer/tx/${res.hash}` }, 'transaction'));
    if (res.height) inBook(orderId, res.height);
    const t = { id: orderId, listing: msg.listing, gate, summary: `Sent ${what(orderId)}.`, kind: 'ok' };
    tracked.push(t);
    try {
      onWallet(await get(`/api/participants/${id}`, { signal: ctx.signal }));
    } catch {
      /* the next block refreshes it */
    }
    // The form is free again; the clearing reports when it comes.
    void followClearing(ctx, t, line);
    return;
  }
}

/** Waits for the listing to clear and reports what the order got. */
function followClearing(ctx, t, line) {
  return new Promise((resolve) => {
    let done = false;
    const check = async () => {
      if (done || !ctx.alive()) return;
      let l;
      try {
        l = await get(`/api/listings/${t.listing}`, { signal: ctx.signal });
      } catch {
        return;
      }
      if (!l?.clearing || done) return;
      done = true;
      const c = l.clearing;
      const trades = (c.trades ?? []).filter((x) => x.bid === t.id || x.offer === t.id);
      const grid = [...(c.grid_import ?? []), ...(c.grid_export ?? [])].filter((g) => g.order === t.id);
      const tradedWh = trades.reduce((n, x) => n + x.wh, 0);
      const gridWh = grid.reduce((n, g) => n + g.wh, 0);
      const parts = [];
      if (tradedWh) parts.push(`${f.kWh(tradedWh)} with members at ${f.price(trades[0].price)}`);
      if (gridWh) parts.push(`${f.kWh(gridWh)} with the utility`);
      const text = `Cleared ${f.interval(l.start, l.end)} at MCP ${c.mcp == null ? 'none' : f.price(c.mcp)}: ${parts.length ? parts.join(', ') : 'nothing matched'} (${t.id}).`;
      t.summary = text;
      line(text, 'ok', 'order-cleared');
      resolve();
    };
    ctx.on('clearing', (c) => {
      if (c.listing === t.listing) check();
    });
    // In case the stream missed it: look once a second after the gate.
    ctx.every(1000, () => {
      if (clock.now() > t.gate) check();
    });
  });
}
