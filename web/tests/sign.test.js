// sign.js against fixtures the Go code produced (contract.SignType, the
// request-signing message, CometBFT's tx Merkle proofs): the browser must
// produce the very bytes the ledger expects. Runs in Node (WebCrypto Ed25519).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  parseKeyFile, signerFromKeyFile, buildTx, toBase64, fromBase64, toHex, fromHex, signRequest,
  requestMessage, authQuery, generateKey, newNonce, sha256, leafHash, rootFromAunts,
} from '../src/sign.js';

const fx = JSON.parse(readFileSync(new URL('./fixtures.json', import.meta.url), 'utf8'));
const keyText = JSON.stringify(fx.key_file);

test('a key file parses into id, seed and public key', () => {
  const k = parseKeyFile(keyText);
  assert.equal(k.id, 'h01');
  assert.equal(k.role, 'member');
  assert.equal(k.seed.length, 32);
  assert.equal(toBase64(k.pub), fx.pub_key);
});

test('malformed key files are refused with a reason', () => {
  assert.throws(() => parseKeyFile('{'), /not JSON/);
  assert.throws(() => parseKeyFile('{"priv_key":"AA=="}'), /id/);
  assert.throws(() => parseKeyFile('{"id":"x","priv_key":"AAAA"}'), /64 bytes/);
});

test('a key whose halves do not match is refused', async () => {
  const k = parseKeyFile(keyText);
  k.pub = k.pub.slice();
  k.pub[0] ^= 1;
  await assert.rejects(signerFromKeyFile(k), /do not match/);
});

test('transactions are byte-identical to contract.SignType', async () => {
  const signer = await signerFromKeyFile(parseKeyFile(keyText));
  for (const c of fx.txs) {
    const tx = await buildTx(signer, fx.chain_id, { registered: c.registered, nonce: c.nonce }, c.type, c.msg);
    assert.equal(toBase64(tx), c.tx, `${c.type} registered ${c.registered ?? 0} nonce ${c.nonce}`);
    assert.equal(toHex(await sha256(tx)), c.hash);
  }
});

test('request signatures match the Go signer', async () => {
  const signer = await signerFromKeyFile(parseKeyFile(keyText));
  const r = fx.request;
  const auth = await signRequest(signer, fx.chain_id, r.method, r.path, r.time, r.nonce);
  assert.deepEqual(auth, { signer: 'h01', time: String(r.time), nonce: r.nonce, sig: r.signature });
  assert.equal(requestMessage('c', 'get', '/p?q=1', 5, 'n0nce'), 'gridledger-request-v2\nc\nGET\n/p?q=1\n5\nn0nce');
  assert.equal(authQuery('/api/events', auth), `/api/events?signer=h01&time=${r.time}&nonce=${r.nonce}&sig=${encodeURIComponent(r.signature)}`);
  assert.match(authQuery('/api/events?a=1', auth), /^\/api\/events\?a=1&signer=h01&/);
});

test('every signed request gets a fresh nonce', async () => {
  const signer = await signerFromKeyFile(parseKeyFile(keyText));
  const a = await signRequest(signer, fx.chain_id, 'GET', '/api/events', 5);
  const b = await signRequest(signer, fx.chain_id, 'GET', '/api/events', 5);
  assert.match(a.nonce, /^[0-9a-f]{32}$/);
  assert.notEqual(a.nonce, b.nonce);
  assert.notEqual(a.sig, b.sig);
  assert.match(newNonce(), /^[0-9a-f]{32}$/);
});

test('a browser-made key signs and exports only its public half', async () => {
  const { key, pub } = await generateKey();
  assert.equal(fromBase64(pub).length, 32);
  assert.equal(key.extractable, false);
  const tx = await buildTx({ id: 'new', key }, 'c', { nonce: 1 }, 'bid', { listing: 1, wh: 1, price: 1 });
  assert.equal(tx[0], 1);
  assert.equal(tx.length, 65 + JSON.stringify({ chain_id: 'c', signer: 'new', nonce: 1, type: 'bid', msg: { listing: 1, wh: 1, price: 1 } }).length);
});

test('Merkle inclusion proofs verify as CometBFT builds them', async () => {
  for (const p of fx.merkle.proofs) {
    const leaf = await leafHash(fromHex(p.hash));
    assert.equal(toBase64(leaf), p.leaf_hash);
    const root = await rootFromAunts(p.index, p.total, leaf, p.aunts.map(fromBase64));
    assert.equal(toHex(root), p.root_hash);
    assert.equal(p.root_hash, fx.merkle.data_hash);
  }
  const p = fx.merkle.proofs[1];
  const bad = p.aunts.map(fromBase64);
  bad[0][0] ^= 1;
  const root = await rootFromAunts(p.index, p.total, fromBase64(p.leaf_hash), bad);
  assert.notEqual(toHex(root), p.root_hash);
  assert.equal(await rootFromAunts(5, 5, fromBase64(p.leaf_hash), []), null);
});
