// Explorer: the latest blocks (live), one block with its transactions, and
// one transaction with its decoded message and its Merkle inclusion proof,
// which this page also checks itself (SHA-256 in the browser).

import { h, fill, card, stat, note, table, link, loading } from '../dom.js';
import { get, isAbort, ApiError } from '../api.js';
import { fromBase64, fromHex, toHex, leafHash, rootFromAunts } from '../sign.js';
import * as f from '../format.js';

export async function render(root, ctx) {
  const [kind, arg] = ctx.params;
  const search = h('input', { type: 'search', placeholder: 'block height or transaction hash', 'aria-label': 'search', testid: 'explorer-search' });
  root.append(
    h(
      'div',
      { class: 'title-row' },
      h('h1', {}, h('a', { href: '#/explorer', class: 'plain' }, 'Explorer')),
      h(
        'form',
        {
          class: 'search',
          onsubmit: (e) => {
            e.preventDefault();
            const q = search.value.trim();
            if (/^\d+$/.test(q)) location.hash = `#/explorer/block/${q}`;
            else if (/^[0-9A-Fa-f]{64}$/.test(q)) location.hash = `#/explorer/tx/${q.toUpperCase()}`;
          },
        },
        search,
        h('button', { type: 'submit' }, 'Go'),
      ),
    ),
  );
  const body = h('div', {}, loading());
  root.append(body);
  try {
    if (kind === 'block' && /^\d+$/.test(arg ?? '')) await showBlock(body, ctx, Number(arg));
    else if (kind === 'tx' && arg) await showTx(body, ctx, arg);
    else await showBlocks(body, ctx);
  } catch (err) {
    if (isAbort(err)) return;
    const what = kind === 'tx' ? `transaction ${arg}` : kind === 'block' ? `block ${arg}` : 'the latest blocks';
    fill(body, note('error', err instanceof ApiError && err.status === 404 ? `There is no ${what} on this ledger.` : `Could not load ${what}: ${err.message}`, 'page-error'));
  }
  ctx.ready();
}

const blockCols = [
  { label: 'Height', value: (b) => link(`#/explorer/block/${b.height}`, f.int(b.height)) },
  { label: 'Time (UTC)', value: (b) => f.clock(b.time) },
  { label: 'Txs', num: true, value: (b) => f.int(b.num_txs) },
  { label: 'Hash', value: (b) => h('code', {}, f.short(b.hash)) },
  { label: 'Proposer', value: (b) => h('code', {}, f.short(b.proposer, 6)) },
];

async function showBlocks(body, ctx) {
  let blocks = (await get('/api/blocks?limit=20', { signal: ctx.signal })) ?? [];
  const draw = () => fill(body, card('Latest blocks', {}, table(blockCols, blocks, { empty: 'No block yet.', testid: 'blocks-table', rowTestid: 'block-row' })));
  draw();
  // The stream's block event is the same summary the list holds.
  ctx.on('block', (b) => {
    if (!Number.isFinite(b.height) || blocks.some((x) => x.height === b.height)) return;
    blocks = [b, ...blocks].sort((x, y) => y.height - x.height).slice(0, 20);
    draw();
  });
}

const codeBadge = (t) => h('span', { class: `badge ${t.code === 0 ? 'ok' : 'bad'}` }, t.code_name || (t.code === 0 ? 'ok' : `code ${t.code}`));

/** A message in one line, for tables. */
function summary(type, msg) {
  if (!msg || typeof msg !== 'object') return '';
  if (type === 'bid' || type === 'offer') return `${f.kWh(msg.wh)} at ${f.price(msg.price)} for ${f.interval(msg.listing)}`;
  // The API shows a readings transaction's count, not its readings.
  if (type === 'readings') return `${f.int(typeof msg.readings === 'number' ? msg.readings : (msg.readings ?? []).length)} readings`;
  if (type === 'plan') return `${f.int((msg.net_wh ?? []).length)} intervals from ${f.interval(msg.start)}`;
  const s = JSON.stringify(msg);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

async function showBlock(body, ctx, height) {
  const b = await get(`/api/blocks/${height}`, { signal: ctx.signal });
  fill(
    body,
    card(
      `Block ${f.int(b.height)}`,
      { testid: 'block' },
      h('div', { class: 'pager' }, height > 1 ? link(`#/explorer/block/${height - 1}`, '← previous') : null, link(`#/explorer/block/${height + 1}`, 'next →')),
      kv([
        ['Height', f.int(b.height)],
        ['Time', b.time],
        ['Hash', h('code', { class: 'break' }, b.hash)],
        ['App hash', h('code', { class: 'break' }, b.app_hash)],
        ['Data hash', h('code', { class: 'break' }, b.data_hash ?? '—')],
        ['Proposer', h('code', { class: 'break' }, b.proposer)],
        ['Transactions', f.int(b.num_txs)],
      ]),
    ),
    card(
      'Transactions',
      {},
      table(
        [
          { label: 'Hash', value: (t) => link(`#/explorer/tx/${t.hash}`, f.short(t.hash)) },
          { label: 'Type', value: (t) => t.type },
          { label: 'Signer', value: (t) => t.signer },
          { label: 'Nonce', num: true, value: (t) => f.int(t.nonce) },
          { label: 'Result', value: codeBadge },
          { label: 'Message', value: (t) => summary(t.type, t.msg) },
        ],
        b.txs ?? [],
        { empty: 'This block has no transactions.', testid: 'block-txs', rowTestid: 'tx-row' },
      ),
    ),
  );
}

const kv = (rows) => h('dl', { class: 'kv' }, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));

// Hashes may come as hex (CometBFT's style) or base64 (Go's []byte).
const hashBytes = (s) => (typeof s === 'string' && /^[0-9A-Fa-f]+$/.test(s) && s.length % 2 === 0 ? fromHex(s) : fromBase64(String(s ?? '')));

/** Checks the proof here: leaf from the tx hash, root from the aunts, root = block's data hash. */
async function verifyProof(tx) {
  const p = tx.proof;
  const leaf = await leafHash(fromHex(tx.hash));
  const leafOK = toHex(leaf) === toHex(hashBytes(p.leaf_hash));
  const root = await rootFromAunts(p.index, p.total, leaf, (p.aunts ?? []).map(hashBytes));
  const rootOK = !!root && toHex(root) === toHex(hashBytes(p.root_hash));
  const dataOK = !p.data_hash || toHex(hashBytes(p.data_hash)) === toHex(hashBytes(p.root_hash));
  return { leafOK, rootOK, dataOK, ok: leafOK && rootOK && dataOK };
}

async function showTx(body, ctx, hash) {
  const t = await get(`/api/txs/${encodeURIComponent(hash)}`, { signal: ctx.signal });
  let check = null;
  if (t.proof) {
    try {
      check = await verifyProof(t);
    } catch {
      check = { ok: false };
    }
  }
  const mark = (ok) => h('span', { class: ok ? 'yes' : 'no' }, ok ? '✓' : '✗');
  fill(
    body,
    card(
      'Transaction',
      { testid: 'tx' },
      h('div', { class: 'stats' },
        stat('Type', t.type, null, 'tx-type'),
        stat('Signer', t.signer, `nonce ${f.int(t.nonce)}`, 'tx-signer'),
        stat('Block', link(`#/explorer/block/${t.height}`, f.int(t.height)), `index ${f.int(t.index)}`),
        stat('Result', codeBadge(t), t.log || null, 'tx-result'),
      ),
      kv([['Hash', h('code', { class: 'break', testid: 'tx-hash' }, t.hash)]]),
      h('h3', {}, 'Message'),
      h('p', { class: 'muted small' }, summary(t.type, t.msg)),
      h('pre', { class: 'json', testid: 'tx-msg' }, JSON.stringify(t.msg, null, 2)),
    ),
    card(
      'Inclusion proof',
      { testid: 'tx-proof' },
      t.proven
        ? h('p', { class: 'proven', testid: 'tx-proven' }, `✓ Proven in block ${f.int(t.height)}`)
        : note('error', 'The ledger could not prove this transaction is in a committed block.', 'tx-unproven'),
      check
        ? h(
            'p',
            { class: 'small', testid: 'tx-proof-check' },
            'Checked in this browser: leaf hash ', mark(check.leafOK), ' · path to the root ', mark(check.rootOK), ' · root is the block’s data hash ', mark(check.dataOK),
          )
        : null,
      t.proof
        ? kv([
            ['Root (block data hash)', h('code', { class: 'break' }, t.proof.root_hash)],
            ['Leaf', h('code', { class: 'break' }, t.proof.leaf_hash)],
            ['Position', `${f.int(t.proof.index)} of ${f.int(t.proof.total)}`],
            ['Aunts', (t.proof.aunts ?? []).length ? h('ol', { class: 'aunts' }, t.proof.aunts.map((a) => h('li', {}, h('code', { class: 'break' }, a)))) : 'none (the only transaction)'],
          ])
        : null,
    ),
    card(
      'Events',
      {},
      table(
        [
          { label: 'Event', value: (e) => e.type },
          { label: 'Attributes', value: (e) => (e.attrs ?? e.attributes ?? []).map((a) => `${a.key}=${a.value}`).join(' ') },
        ],
        t.events ?? [],
        { empty: 'No events.' },
      ),
    ),
  );
}
