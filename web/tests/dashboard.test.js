// Browser tests of the dashboard against a real `gridledger run`: the node,
// its API and the embedded dashboard, with a simulated community trading.
//
//   GRIDLEDGER_BIN        the binary (default ../bin/gridledger)
//   GRIDLEDGER_ARTEFACTS  where screenshots go (default web/test-results/)
//   GRIDLEDGER_URL + GRIDLEDGER_HOME  use a node already running instead
//                         (e.g. `npm run dev` in front of one) while developing
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { parseKeyFile, signerFromKeyFile, signRequest, authHeaders, buildTx, toBase64 } from '../src/sign.js';

const webDir = new URL('..', import.meta.url).pathname;
const BIN = resolve(webDir, process.env.GRIDLEDGER_BIN || '../bin/gridledger');
const ARTEFACTS = resolve(webDir, process.env.GRIDLEDGER_ARTEFACTS || 'test-results');
const PAGES = ['market', 'history', 'community', 'member', 'dso', 'operator', 'explorer'];
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

let node = null; // the child process
let home = '';
let base = ''; // http://127.0.0.1:PORT/
let browser = null;
let chainId = '';
let members = []; // household members with a key file in the home
let drID = ''; // the demand-response request the tests make

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Polls fn until it returns a truthy value. */
async function until(what, fn, timeoutMs = 60000, everyMs = 500) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

async function api(path, init) {
  const res = await fetch(new URL(path, base), init);
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

async function startNode() {
  home = mkdtempSync(join(tmpdir(), 'gridledger-dash-'));
  assert.ok(existsSync(BIN), `GRIDLEDGER_BIN ${BIN} does not exist: build it (go build -o bin/gridledger ./cmd/gridledger)`);
  // Free ports for everything the node listens on, so a node already
  // running on this machine does not collide with the test's.
  const [rpc, p2p, mqtt] = [await freePort(), await freePort(), await freePort()];
  const args = ['run', '--home', home, '--api-addr', '127.0.0.1:0', '--time-scale', '720', '--output', 'json',
    '--rpc-laddr', `tcp://127.0.0.1:${rpc}`, '--p2p-laddr', `tcp://127.0.0.1:${p2p}`, '--mqtt-addr', `127.0.0.1:${mqtt}`];
  node = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(join(ARTEFACTS, 'gridledger-run.log'));
  node.stderr.pipe(log);
  const exited = new Promise((_, rej) => node.once('exit', (code) => rej(new Error(`gridledger run exited with ${code} before the dashboard was up (see ${join(ARTEFACTS, 'gridledger-run.log')})`))));
  const up = new Promise((res) => {
    createInterface({ input: node.stdout }).on('line', (line) => {
      log.write(`stdout: ${line}\n`);
      try {
        const ev = JSON.parse(line);
        if (ev.event === 'dashboard' && ev.url) res(ev.url);
      } catch {
        /* other output */
      }
    });
  });
  const timeout = sleep(90000).then(() => Promise.reject(new Error('gridledger run printed no dashboard URL in 90 s')));
  base = await Promise.race([up, exited, timeout]);
  exited.catch(() => {}); // later exits are handled in after()
}

async function stopNode() {
  if (!node || node.exitCode !== null) return;
  const done = new Promise((r) => node.once('exit', r));
  node.kill('SIGINT');
  const t = setTimeout(() => node.kill('SIGKILL'), 10000);
  await done;
  clearTimeout(t);
}

before(async () => {
  mkdirSync(ARTEFACTS, { recursive: true });
  if (process.env.GRIDLEDGER_URL) {
    base = process.env.GRIDLEDGER_URL;
    home = process.env.GRIDLEDGER_HOME;
  } else {
    await startNode();
  }
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const info = await until('the API', async () => (await api('/api/info')).body);
  chainId = info.chain_id;
  const ps = (await api('/api/participants')).body;
  members = ps.filter((p) => p.role === 'member' && p.node_type === 'household' && existsSync(join(home, 'keys', `${p.id}.json`)));
  assert.ok(members.length >= 2, 'two household members with key files in the home');
  // Let the market run until something has cleared.
  await until('a cleared listing', async () => ((await api('/api/listings')).body ?? []).some((l) => l.clearing), 60000);
  // A demand-response request, signed here as the DSO, for the first hours
  // of the next local day (the members' EMSs answer for days they have
  // planned and not begun); it is delivered and verified while the other
  // tests run.
  const params = (await api('/api/params')).body;
  const now = (await api('/api/info')).body.market_time;
  const off = params.tariff_utc_offset_s;
  const start = (Math.floor((now + off) / 86400) + 1) * 86400 - off;
  // The EMSs plan a day 12 market hours before it and answer only requests
  // for days they planned first: at 720x, wait up to a minute for that.
  await until('the members to plan the day', async () => (await api('/api/info')).body.market_time >= start - 11 * 3600, 120000, 500);
  drID = `dash-${start}`;
  await submit('dso', 'dr_request', { id: drID, start, intervals: 3, reduction_w: 5000, incentive: 300000 });
});

after(async () => {
  await browser?.close();
  await stopNode();
  if (node && home) rmSync(home, { recursive: true, force: true });
});

/** A page in a fresh context, with every console error and warning collected. */
async function openPage(viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { page, problems, close: () => context.close() };
}

async function goto(page, name, hash = `#/${name}`) {
  await page.goto(new URL(hash, base).href);
  await page.waitForSelector(`body[data-ready="${name}"]`, { timeout: 20000 });
}

async function shot(page, file) {
  await page.evaluate(() => window.scrollTo(0, 0)); // the sticky nav stays on top
  await page.screenshot({ path: join(ARTEFACTS, file), fullPage: true });
}

/** The canvas of a chart has a real size. */
async function chartSize(page, testid) {
  await page.waitForSelector(`[data-testid="${testid}"] canvas`, { timeout: 15000 });
  const box = await page.locator(`[data-testid="${testid}"] canvas`).first().boundingBox();
  assert.ok(box && box.width > 100 && box.height > 100, `${testid} is drawn (${JSON.stringify(box)})`);
}

const keyPath = (id) => join(home, 'keys', `${id}.json`);
const readKey = (id) => readFileSync(keyPath(id), 'utf8');

/** A new member's key file, as `gridledger keys` writes one. */
function newKeyFile(id) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32);
  const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  return { text: JSON.stringify({ id, role: 'member', priv_key: Buffer.concat([seed, pub]).toString('base64') }), pub: pub.toString('base64') };
}

/**
 * Signs a transaction here (sign.js) with id's key (the home's key file
 * unless keyText is given) and sends it, retrying once on a nonce race.
 */
async function submit(id, type, msg, keyText = readKey(id)) {
  const signer = await signerFromKeyFile(parseKeyFile(keyText));
  for (let attempt = 0; ; attempt++) {
    const { registered, nonce } = (await api(`/api/participants/${id}`)).body;
    const tx = await buildTx(signer, chainId, { registered, nonce: nonce + 1 }, type, msg);
    const res = await api('/api/txs?wait=commit', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ tx: toBase64(tx) }) });
    if (res.body?.name === 'replay' && attempt === 0) continue;
    assert.equal(res.status, 202, `${type} by ${id}: ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

test('first load is under a second', async () => {
  const { page, problems, close } = await openPage();
  await goto(page, 'market', '');
  const ms = await page.evaluate(() => performance.getEntriesByName('ready:market')[0]?.startTime);
  console.log(`first load: ${ms.toFixed(0)} ms from navigation to the market page ready`);
  assert.ok(ms < 1000, `first load took ${ms} ms`);
  assert.deepEqual(problems, []);
  await close();
});

test('every page loads and shows live data, without console errors', async () => {
  const { page, problems, close } = await openPage();

  // Market: the height moves while we watch; the book and clearing show.
  await goto(page, 'market');
  const height = async () => Number((await page.textContent('[data-testid="block-height"]')).replace(/\D/g, ''));
  const h0 = await height();
  await until('the block height to rise', async () => (await height()) > h0, 20000, 250);
  await page.waitForSelector('[data-testid="clearing-mcp"]');
  await until('an order book', async () => (await page.$('[data-testid="orderbook-chart"] canvas')) !== null, 30000);
  await chartSize(page, 'orderbook-chart');
  assert.match(await page.textContent('[data-testid="countdown"]'), /s|closing/);
  await shot(page, 'dashboard-market.png');

  await goto(page, 'history');
  await chartSize(page, 'mcp-chart');
  await chartSize(page, 'traded-chart');
  assert.ok((await page.$$('[data-testid="history-table"] tbody tr')).length > 0);
  await shot(page, 'dashboard-history.png');

  await until('a settled interval', async () => ((await api('/api/kpis')).body?.hours ?? []).length > 0, 60000);
  await goto(page, 'community');
  await chartSize(page, 'energy-chart');
  await page.waitForSelector('[data-testid="kpi-self-sufficiency"]');
  // How many members are better off than with the utility alone, from the KPIs served.
  await until('the members better off, as the KPIs say', async () => {
    const k = (await api('/api/kpis')).body.community;
    return (await page.textContent('[data-testid="kpi-better-off"]')).startsWith(`${k.members_saving} of ${k.members}`);
  }, 20000);
  await shot(page, 'dashboard-community.png');

  await goto(page, 'member');
  await page.waitForSelector('[data-testid="key-prompt"]');
  await page.waitForSelector('[data-testid="member-need-key"]');
  await shot(page, 'dashboard-member.png');

  await goto(page, 'dso');
  await page.waitForSelector('[data-testid="res-approved"] tbody tr');
  await page.waitForSelector('[data-testid="feeders"] canvas, [data-testid="feeders-empty"]');
  await shot(page, 'dashboard-dso.png');

  await goto(page, 'operator');
  await chartSize(page, 'tariff-chart');
  assert.ok((await page.$$('[data-testid="participants"] tbody tr')).length >= members.length);
  await shot(page, 'dashboard-operator.png');

  // Explorer: blocks arrive live; a block lists its transactions; a
  // transaction shows its message and its proof.
  await goto(page, 'explorer');
  const top = async () => Number((await page.textContent('[data-testid="block-row"] td')).replace(/\D/g, ''));
  const t0 = await top();
  await until('a new block in the list', async () => (await top()) > t0, 20000, 250);
  await shot(page, 'dashboard-explorer.png');
  const withTxs = (await api('/api/blocks?limit=20')).body.find((b) => b.num_txs > 0);
  assert.ok(withTxs, 'a recent block with transactions');
  await goto(page, 'explorer', `#/explorer/block/${withTxs.height}`);
  await page.waitForSelector('[data-testid="tx-row"]');
  await shot(page, 'dashboard-explorer-block.png');
  await page.click('[data-testid="tx-row"] a');
  await page.waitForSelector('[data-testid="tx-proven"]');
  assert.match(await page.textContent('[data-testid="tx-proven"]'), new RegExp(`Proven in block ${withTxs.height.toLocaleString('en-GB')}`));
  assert.match(await page.textContent('[data-testid="tx-proof-check"]'), /✓.*✓.*✓/);
  await shot(page, 'dashboard-explorer-tx.png');

  // The footer's link to the API's description.
  const spec = await api(await page.getAttribute('footer a', 'href'));
  assert.equal(spec.status, 200);
  assert.ok(spec.body.openapi && spec.body.paths['/api/info']);

  assert.deepEqual(problems, [], 'no console errors or warnings');
  await close();
});

test('a bid placed in the page is in the next block and in the clearing', async () => {
  const me = members[0];
  const { page, problems, close } = await openPage();
  await goto(page, 'member');
  await page.setInputFiles('[data-testid="key-file"]', keyPath(me.id));
  await page.waitForSelector('[data-testid="wallet-balance"]', { timeout: 20000 });
  assert.equal(await page.textContent('[data-testid="key-id"]'), me.id);
  // The advice says what the member's deviations cost or earned it and what the community netted.
  assert.match(await page.textContent('[data-testid="advice-deviations"]'), /\d/);
  assert.match(await page.textContent('[data-testid="advice-netted"]'), /kWh/);

  // The second listing still open leaves a few seconds for the block.
  await page.selectOption('[data-testid="order-side"]', 'bid');
  const options = await page.$$eval('[data-testid="order-listing"] option', (os) => os.map((o) => o.value));
  assert.ok(options.length > 0, 'an open listing to bid in');
  const start = Number(options[Math.min(1, options.length - 1)]);
  await page.selectOption('[data-testid="order-listing"]', String(start));
  const listing = (await api(`/api/listings/${start}`)).body;
  await page.fill('[data-testid="order-kwh"]', '0.5');
  await page.fill('[data-testid="order-price"]', (listing.grid_price / 1e6).toFixed(4));
  await page.click('[data-testid="order-submit"]');

  const inBlock = await page.waitForSelector('[data-testid="order-in-block"], [data-testid="order-error"]', { timeout: 30000 });
  const text = await inBlock.textContent();
  assert.equal(await inBlock.getAttribute('data-testid'), 'order-in-block', text);
  const orderId = text.match(/order (\S+\/\d+)/)[1];
  console.log(`placed ${orderId} in listing ${start}: ${text}`);

  // On the ledger: in the listing's book, and its transaction proven in a block.
  const book = (await api(`/api/listings/${start}`)).body.book;
  const order = book.find((o) => o.id === orderId);
  assert.ok(order, `order ${orderId} in the book`);
  assert.equal(order.participant, me.id);
  assert.equal(order.side, 'bid');
  assert.equal(order.wh, 500);
  const txHash = (await page.getAttribute('[data-testid="order-sent"] a', 'href')).split('/').pop();
  const tx = (await api(`/api/txs/${txHash}`)).body;
  assert.equal(tx.type, 'bid');
  assert.equal(tx.height, order.height);
  assert.equal(tx.proven, true);
  await shot(page, 'dashboard-member-signed.png');

  // After gate closure the clearing serves it: a trade or a grid import.
  const cleared = await page.waitForSelector('[data-testid="order-cleared"]', { timeout: 60000 });
  console.log(`cleared: ${await cleared.textContent()}`);
  const c = (await api(`/api/listings/${start}`)).body.clearing;
  assert.ok(c, 'the listing has cleared');
  const served = c.trades.some((t) => t.bid === orderId) || c.grid_import.some((g) => g.order === orderId);
  assert.ok(served, `the clearing includes ${orderId}`);
  // The member's own meter readings arrive on the signed stream.
  await until('a live meter reading', async () => Number(await page.textContent('[data-testid="readings-live-count"]')) > 0, 30000);
  await shot(page, 'dashboard-member-cleared.png');
  assert.deepEqual(problems, []);
  await close();
});

test("the member page shows its battery's plan and state of charge", async () => {
  // A member of its own, with no EMS planning for it: the page shows its
  // battery without a plan, then, live, the plan it commits.
  const id = `bat-${Date.now() % 1e6}`;
  const key = newKeyFile(id);
  await submit('operator', 'register_participant', { id, role: 'member', node_type: 'household', pub_key: key.pub });
  const battery = { id: `${id}-battery`, capacity_wh: 10000, max_charge_w: 5000, max_discharge_w: 4000 };
  await submit(id, 'register_battery', battery, key.text);
  await submit('dso', 'approve_battery', { id: battery.id });

  const { page, problems, close } = await openPage();
  await goto(page, 'member');
  await page.fill('[data-testid="key-paste"]', key.text);
  await page.click('[data-testid="key-paste-use"]');
  await page.waitForSelector('[data-testid="battery-no-plan"]', { timeout: 20000 });
  assert.equal(await page.textContent('[data-testid="battery-capacity"] .stat-value'), '10.000 kWh');
  assert.equal(await page.textContent('[data-testid="battery-power"] .stat-value'), '5.0 kW / 4.0 kW');
  assert.equal(await page.textContent('[data-testid="battery-approval"] .stat-value'), 'Approved');
  assert.match(await page.textContent('[data-testid="battery-no-plan"]'), /No plan for the battery yet/);
  await shot(page, 'dashboard-member-battery-empty.png');

  // A plan from two intervals ahead, up to 24, clear of any live
  // demand-response request (its intervals are frozen): charging, then
  // discharging, and an interval idle and empty, still part of the schedule.
  const { interval_s: iv, market_time: now } = (await api('/api/info')).body;
  let n = 24;
  let start = (Math.floor(now / iv) + 2) * iv;
  const live = ((await api('/api/dr')).body ?? []).filter((r) => r.state !== 'done').sort((a, b) => a.start - b.start);
  for (const r of live) {
    if (r.start >= start + n * iv || r.end <= start) continue;
    if (r.start - start >= 6 * iv) n = (r.start - start) / iv;
    else start = r.end;
  }
  const day = [3000, 3000, 3500, 0, -3000, -3000, -3500, 0];
  const batteryWh = Array.from({ length: n }, (_, i) => day[i % day.length]);
  const socWh = [];
  batteryWh.reduce((level, wh) => (socWh.push(level + wh), level + wh), 0);
  await submit(id, 'plan', { start, net_wh: batteryWh.map((wh) => wh + 400), battery_wh: batteryWh, battery_soc_wh: socWh }, key.text);

  // The page follows the plan event and draws it, and moves with the
  // clock: once the plan's first interval has begun, the chart's series
  // are the committed figures, in kWh, at their intervals, nothing
  // elsewhere; the current interval is marked and its planned state of
  // charge shown.
  const drawn = await until('the chart of the plan, its first interval begun', async () =>
    page.evaluate((start) => {
      const el = document.querySelector('[data-testid="battery-chart"]');
      if (!el?.plot?.data?.[0]?.length || Number(el.dataset.mark) < start) return null;
      return { data: el.plot.data, labels: el.plot.series.map((s) => s.label), mark: Number(el.dataset.mark), soc: document.querySelector('[data-testid="battery-soc-now"] .stat-value').textContent };
    }, start), 60000, 250);
  const after = (await api('/api/info')).body.market_time;
  const [xs, bars, socs] = drawn.data;
  assert.match(drawn.labels[1], /^Charge \(\+\) \/ discharge \(−\)/);
  assert.match(drawn.labels[2], /^State of charge/);
  let matched = 0;
  for (let k = 0; k < xs.length; k++) {
    assert.equal(xs[k] % iv, 0, 'the x values are interval boundaries');
    const i = (xs[k] - start) / iv; // the interval starting at xs[k]
    if (k < xs.length - 1) {
      assert.equal(bars[k], i >= 0 && i < n ? batteryWh[i] / 1000 : null, `energy of the interval at ${xs[k]}`);
      if (i >= 0 && i < n) matched++;
    }
    // The level at xs[k] ends the interval before it (the first may be settled and gone).
    const want = i - 1 >= 0 && i - 1 < n ? socWh[i - 1] / 1000 : null;
    if (!(k === 0 && socs[k] === null)) assert.equal(socs[k], want, `state of charge at ${xs[k]}`);
  }
  const remaining = Array.from({ length: n }, (_, i) => start + i * iv).filter((t) => t >= xs[0] && t < xs[xs.length - 1]).length;
  assert.equal(matched, remaining, 'every planned interval still to come is drawn');
  assert.ok(matched >= 4, `${matched} planned intervals drawn`);
  assert.equal(drawn.mark, xs[0]);
  assert.ok(drawn.mark <= after + iv, `current interval ${drawn.mark}, market time ${after}`);
  const socNow = socWh[(drawn.mark - start) / iv] / 1000;
  assert.equal(drawn.soc, `${socNow.toFixed(3)} kWh (${(socNow * 10).toFixed(1)} %)`);
  console.log(`battery plan: ${matched} of ${n} intervals drawn from ${xs[0]}, state of charge now ${drawn.soc}`);
  await shot(page, 'dashboard-member-battery.png');

  // It fits a phone.
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(300); // the chart resizes on the next frame
  const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
  assert.ok(scroll <= width, `the member page with a battery is ${scroll} px wide on a ${width} px screen`);
  await shot(page, 'dashboard-member-battery-phone.png');
  assert.deepEqual(problems, []);
  await close();
});

test('private data refuses strangers', async () => {
  const [me, other] = members;
  const path = `/api/members/${me.id}/statement`;
  const unsigned = await api(path);
  assert.equal(unsigned.status, 401);
  assert.equal(unsigned.body.name, 'bad_signature');

  const stranger = await signerFromKeyFile(parseKeyFile(readKey(other.id)));
  const auth = await signRequest(stranger, chainId, 'GET', path);
  const signed = await api(path, { headers: authHeaders(auth) });
  assert.equal(signed.status, 403);
  assert.equal(signed.body.name, 'wrong_role');

  const own = await signerFromKeyFile(parseKeyFile(readKey(me.id)));
  const mine = await api(path, { headers: authHeaders(await signRequest(own, chainId, 'GET', path)) });
  assert.equal(mine.status, 200);

  // The page with me's id but other's key: the ledger refuses, the page says so.
  const forged = JSON.stringify({ ...JSON.parse(readKey(other.id)), id: me.id });
  const { page, problems, close } = await openPage();
  await goto(page, 'member');
  await page.fill('[data-testid="key-paste"]', forged);
  await page.click('[data-testid="key-paste-use"]');
  await page.waitForSelector('[data-testid="member-refused"]', { timeout: 20000 });
  assert.match(await page.textContent('[data-testid="member-refused"]'), /Refused/);
  await shot(page, 'dashboard-member-refused.png');
  // The browser itself reports the refused request; nothing else may appear.
  assert.deepEqual(problems.filter((p) => !/status of 401/.test(p)), []);
  await close();
});

test('the DSO sees feeder load, demand response and RES approvals', async () => {
  // A new RES waiting for approval, signed here as the dashboard would.
  await submit(members[1].id, 'register_res', { id: `${members[1].id}-pv-new`, kind: 'pv', capacity_w: 3000 });

  const { page, problems, close } = await openPage();
  await goto(page, 'dso');
  await page.waitForSelector('[data-testid="feeders-public"], [data-testid="feeders-empty"]');
  await page.waitForSelector(`[data-testid="res-pending"] >> text=${members[1].id}-pv-new`);
  await page.waitForSelector(`[data-testid="dr-table"] >> text=${drID}`, { timeout: 20000 });
  await chartSize(page, 'dr-chart');

  await page.click('details.card > summary');
  await page.setInputFiles('[data-testid="key-file"]', keyPath('dso'));
  await page.waitForSelector('[data-testid="key-id"]');
  await until('settlements with member detail', async () => (await page.$('[data-testid="feeder-table"] tbody tr')) !== null, 30000);
  await chartSize(page, 'feeder-chart');

  // The members' EMSs committed reductions; the meters verify them after
  // delivery, and the page follows.
  const dr = await until('the request to be settled', async () => {
    const r = (await api(`/api/dr/${drID}`)).body;
    return r.state === 'done' && r;
  }, 180000, 1000);
  const sum = (k) => Object.values(dr.commits).reduce((n, c) => n + c[k].reduce((a, b) => a + b, 0), 0);
  console.log(`demand response ${drID}: ${Object.keys(dr.commits).length} members promised ${sum('promised_wh')} Wh, verified ${sum('verified_wh')} Wh, paid ${dr.paid} nano`);
  assert.ok(sum('promised_wh') > 0, 'members promised a reduction');
  const row = `[data-testid="dr-table"] tr:has-text("${drID}"):has-text("done")`;
  await page.waitForSelector(row, { timeout: 20000 });
  const cells = await page.$$eval(`${row} td`, (tds) => tds.map((td) => td.textContent));
  assert.equal(cells[6], `${(sum('promised_wh') / 1000).toFixed(3)} kWh`);
  assert.equal(cells[7], `${(sum('verified_wh') / 1000).toFixed(3)} kWh`);
  await shot(page, 'dashboard-dso-signed.png');
  assert.deepEqual(problems, []);
  await close();
});

test('a key made in the browser signs once the operator registers it', async () => {
  const { page, problems, close } = await openPage();
  await goto(page, 'member');
  await page.click('.new-key summary');
  const id = `web-${Date.now() % 1e6}`;
  await page.fill('[data-testid="new-key-id"]', id);
  await page.click('[data-testid="new-key"]');
  // Not registered yet: the page says so and shows the public key to hand over.
  await page.waitForSelector('[data-testid="member-unknown"]', { timeout: 20000 });
  const pub = (await page.textContent('[data-testid="key-pub"]')).trim();
  assert.equal(Buffer.from(pub, 'base64').length, 32);
  await shot(page, 'dashboard-member-newkey.png');

  await submit('operator', 'register_participant', { id, role: 'member', node_type: 'household', pub_key: pub });
  await submit('operator', 'issue', { to: id, amount: 5e9 });
  // The key survives a reload (IndexedDB) and its signature is now accepted.
  await page.reload();
  await page.waitForSelector('body[data-ready="member"]');
  await page.waitForSelector('[data-testid="wallet-balance"]', { timeout: 20000 });
  assert.equal(await page.textContent('[data-testid="key-id"]'), id);
  assert.equal(await page.textContent('[data-testid="wallet-balance"] .stat-value'), '€5.00');
  await page.click('[data-testid="forget-key"]');
  await page.waitForSelector('[data-testid="key-prompt"]');
  // Only the refusal of the unregistered key (404) may have reached the console.
  assert.deepEqual(problems.filter((p) => !/status of 404/.test(p)), []);
  await close();
});

test('pages fit a phone screen', async () => {
  const { page, problems, close } = await openPage(PHONE);
  for (const name of PAGES) {
    await goto(page, name);
    await page.waitForTimeout(300); // charts size themselves on the next frame
    const { scroll, width } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
    assert.ok(scroll <= width, `${name}: the page is ${scroll} px wide on a ${width} px screen`);
    const body = await page.evaluate(() => document.body.scrollWidth);
    assert.ok(body <= width, `${name}: the body is ${body} px wide on a ${width} px screen`);
    await shot(page, `dashboard-${name}-phone.png`);
  }
  assert.deepEqual(problems, []);
  await close();
});
