// Market now: the next auction whose gate is still open, with a live
// countdown, its order book as supply and demand curves, and the latest
// clearing. Follows the ledger through the event stream.

import { h, fill, card, stat, note, table, loading } from '../dom.js';
import { get, loadInfo, clock, isAbort, coalesce } from '../api.js';
import { chart, bookCurves, colors } from '../charts.js';
import * as f from '../format.js';

export async function render(root, ctx) {
  const heightEl = h('span', { testid: 'block-height' }, '—');
  const countdownEl = h('span', { class: 'countdown', testid: 'countdown' }, '—');
  const nextBody = h('div', {}, loading());
  const bookBody = h('div', {}, loading());
  const clearingBody = h('div', { testid: 'latest-clearing' }, loading());
  const openBody = h('div', {}, loading());
  root.append(
    h('h1', {}, 'Market now'),
    h(
      'div',
      { class: 'grid two' },
      card('Next auction', { testid: 'next-listing' }, h('div', { class: 'countdown-box' }, 'Gate closes in ', countdownEl), nextBody),
      card('Latest clearing', {}, clearingBody),
    ),
    card('Order book', { testid: 'orderbook' }, bookBody),
    card('Open listings', {}, openBody),
    h('p', { class: 'muted small' }, 'Ledger height ', heightEl, '. Market time runs faster than real time in this community; all times are UTC market time.'),
  );

  let info = await loadInfo(ctx.signal);
  let open = []; // open listings with books
  let current = null; // the listing shown
  let lastClearing = null; // ListingView of the latest cleared listing
  let bookChart = null;
  ctx.cleanup(() => bookChart?.destroy());
  heightEl.textContent = f.int(info.height);

  const loadOpen = async () => {
    open = (await get('/api/listings/open', { signal: ctx.signal })) ?? [];
    open.sort((a, b) => a.start - b.start);
  };

  // The latest cleared listing: found in the recent listings, then read
  // in full (the list leaves out trades).
  const loadLatestClearing = async () => {
    const now = Math.floor(clock.now());
    const recent = (await get(`/api/listings?from=${now - 2 * 86400}&to=${now + 86400}`, { signal: ctx.signal })) ?? [];
    const latest = recent.filter((l) => l.clearing).sort((a, b) => b.start - a.start)[0];
    lastClearing = latest ? await get(`/api/listings/${latest.start}`, { signal: ctx.signal }) : null;
  };

  const pick = () => {
    const now = clock.now();
    current = open.find((l) => l.gate_closure > now && l.state === 'AUTHORIZE_OFFERS') ?? null;
  };

  const renderNext = () => {
    if (!current) {
      fill(nextBody, note('empty', 'No listing is open for orders right now. The next one opens with the next interval.'));
      return;
    }
    const book = current.book ?? [];
    const bids = book.filter((o) => o.side === 'bid' && !o.cancelled);
    const offers = book.filter((o) => o.side === 'offer' && !o.cancelled);
    const sum = (list) => list.reduce((n, o) => n + o.wh, 0);
    fill(
      nextBody,
      h(
        'div',
        { class: 'stats' },
        stat('Delivery', f.interval(current.start, current.end), null, 'next-interval'),
        stat('Gate closure', f.interval(current.gate_closure)),
        stat('Bids', `${bids.length} · ${f.kWh(sum(bids))}`, null, 'next-bids'),
        stat('Offers', `${offers.length} · ${f.kWh(sum(offers))}`, null, 'next-offers'),
        stat('Grid tariff', f.price(current.grid_price)),
        stat('Feed-in tariff', f.price(current.feed_in)),
      ),
      h('p', { class: 'muted small' }, `Mechanism: ${current.mechanism}. Buyers' bids are escrowed when accepted; the ledger clears the book at gate closure.`),
    );
  };

  const renderBook = () => {
    if (!current) {
      bookChart?.destroy();
      bookChart = null;
      fill(bookBody, note('empty', 'No open listing to show.'));
      return;
    }
    const [xs, supply, demand] = bookCurves(current.book ?? []);
    if (xs.length < 2) {
      bookChart?.destroy();
      bookChart = null;
      fill(bookBody, note('empty', `No orders yet for ${f.interval(current.start, current.end)}. Members' energy managers bid a few intervals before gate closure.`, 'orderbook-empty'));
      return;
    }
    const mcp = f.toPrice(lastClearing?.clearing?.mcp);
    const flat = (v) => xs.map(() => v);
    const data = [xs, supply, demand, flat(mcp), flat(f.toPrice(current.grid_price)), flat(f.toPrice(current.feed_in))];
    if (!bookChart) {
      bookChart = chart({
        testid: 'orderbook-chart',
        title: 'Supply and demand',
        x: { label: 'cumulative kWh', fmt: (v) => v.toFixed(1) },
        y: { label: '€/kWh', fmt: (v) => v.toFixed(3) },
        series: [
          { label: 'Supply (offers)', color: colors.supply, step: true },
          { label: 'Demand (bids)', color: colors.demand, step: true },
          { label: 'Last MCP', color: colors.mcp, dash: [6, 4] },
          { label: 'Grid tariff', color: colors.grid, dash: [2, 4], width: 1 },
          { label: 'Feed-in', color: colors.feedIn, dash: [2, 4], width: 1 },
        ],
        data,
      });
      fill(bookBody, bookChart.el, h('p', { class: 'muted small' }, 'Offers by ascending price form the supply curve, bids by descending price the demand curve.'));
    } else bookChart.update(data);
  };

  const renderClearing = () => {
    const l = lastClearing;
    if (!l?.clearing) {
      fill(clearingBody, note('empty', 'No listing has cleared yet.', 'clearing-empty'));
      return;
    }
    const c = l.clearing;
    const sumWh = (list) => (list ?? []).reduce((n, x) => n + x.wh, 0);
    fill(
      clearingBody,
      h(
        'div',
        { class: 'stats' },
        stat('Interval', f.interval(l.start, l.end), null, 'clearing-interval'),
        stat('Clearing price (MCP)', c.mcp == null ? 'no price' : f.price(c.mcp), null, 'clearing-mcp'),
        stat('Traded', f.kWh(c.traded_wh), null, 'clearing-traded'),
        stat('Trades', f.int((c.trades ?? []).length), null, 'clearing-trades'),
        stat('Available / wanted', `${f.kWh(c.available_wh)} / ${f.kWh(c.wanted_wh)}`),
        stat('Grid import / export', `${f.kWh(sumWh(c.grid_import))} / ${f.kWh(sumWh(c.grid_export))}`),
      ),
    );
  };

  const renderOpen = () => {
    const now = clock.now();
    fill(
      openBody,
      table(
        [
          { label: 'Delivery', value: (l) => f.interval(l.start, l.end) },
          { label: 'Gate', value: (l) => (l.gate_closure > now ? `in ${f.seconds(clock.realUntil(l.gate_closure))}` : 'closed') },
          { label: 'Bids', num: true, value: (l) => f.int((l.book ?? []).filter((o) => o.side === 'bid').length) },
          { label: 'Offers', num: true, value: (l) => f.int((l.book ?? []).filter((o) => o.side === 'offer').length) },
          { label: 'Grid', num: true, value: (l) => f.price(l.grid_price) },
          { label: 'Feed-in', num: true, value: (l) => f.price(l.feed_in) },
        ],
        open.filter((l) => l.gate_closure > now).slice(0, 12),
        { empty: 'No listing is open.', testid: 'open-listings' },
      ),
      open.length > 12 ? h('p', { class: 'muted small' }, `… and ${open.length - 12} more, up to ${f.time(open[open.length - 1].start)}.`) : null,
    );
  };

  const renderAll = () => {
    pick();
    renderNext();
    renderBook();
    renderClearing();
    renderOpen();
  };

  await Promise.all([loadOpen(), loadLatestClearing()]);
  renderAll();
  ctx.ready();

  // A clearing or a new listing reloads the open books and the latest
  // clearing; bursts of events coalesce into one reload.
  const reload = coalesce(async () => {
    try {
      await Promise.all([loadOpen(), loadLatestClearing()]);
      if (ctx.alive()) renderAll();
    } catch (err) {
      if (!isAbort(err) && ctx.alive()) fill(bookBody, note('error', `Could not refresh the market: ${err.message}`));
    }
  }, 500);
  ctx.cleanup(reload.cancel);

  ctx.on('block', (b) => {
    if (Number.isFinite(b.height)) heightEl.textContent = f.int(b.height);
  });
  ctx.on('order', (o) => {
    const l = open.find((x) => x.start === o.listing);
    if (!l) return;
    l.book = l.book ?? [];
    // The stream names the order id "order" (the ledger event's attribute).
    const id = o.id ?? o.order;
    if (!l.book.some((x) => x.id === id)) l.book.push({ ...o, id, seq: o.seq ?? l.book.length + 1, cancelled: false });
    if (l === current) {
      renderNext();
      renderBook();
    }
  });
  ctx.on('clearing', reload);
  ctx.on('listing_opened', reload);

  // The countdown ticks on the interpolated market clock; when the gate
  // passes, the next listing takes over.
  ctx.every(200, () => {
    if (!current) {
      countdownEl.textContent = '—';
      return;
    }
    const left = clock.realUntil(current.gate_closure);
    countdownEl.textContent = left > 0 ? f.seconds(left) : 'closing…';
    if (left <= 0) {
      const before = current;
      pick();
      if (current !== before) {
        renderNext();
        renderBook();
        renderOpen();
      }
    }
  });
  ctx.every(1000, renderOpen);
  // The clock drifts from the ledger's over minutes: re-anchor it.
  ctx.every(30000, () => loadInfo(ctx.signal).then((i) => (info = i)).catch(() => {}));
}
