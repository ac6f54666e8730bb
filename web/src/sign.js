// Signing in the browser (and in Node, for the tests): key files, signed API
// requests and ledger transactions. The API never sees a private key.
//
// Transaction wire format (internal/contract/tx.go): [0x01] ++ 64-byte
// ed25519 signature ++ body, the body being the UTF-8 JSON
// {"chain_id","signer","nonce","type","msg"} the signature covers exactly.

const subtle = globalThis.crypto.subtle;
const utf8 = new TextEncoder();

// PKCS#8 DER header of an Ed25519 private key; the 32-byte seed follows it.
const PKCS8_ED25519 = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

export const TX_VERSION = 1;
export const REQUEST_DOMAIN = 'gridledger-request-v2';
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** Standard base64 of bytes. */
export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Bytes of a standard base64 string. */
export function fromBase64(text) {
  const s = atob(text.trim());
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Uppercase hex, as CometBFT prints hashes. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();
}

/** Bytes of a hex string. */
export function fromHex(text) {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * Parses a gridledger key file (HOME/keys/NAME.json):
 * {"id","role","priv_key": base64 of seed(32) ++ public key(32)}.
 * Throws an Error with a readable message when it is not one.
 */
export function parseKeyFile(text) {
  let k;
  try {
    k = JSON.parse(text);
  } catch {
    throw new Error('not JSON: paste the whole key file, {"id": …, "priv_key": …}');
  }
  if (!k || typeof k.id !== 'string' || !ID_PATTERN.test(k.id)) throw new Error('the key file has no valid "id"');
  let raw;
  try {
    raw = fromBase64(String(k.priv_key ?? ''));
  } catch {
    throw new Error('"priv_key" is not base64');
  }
  if (raw.length !== 64) throw new Error(`"priv_key" must be 64 bytes, not ${raw.length}`);
  return { id: k.id, role: k.role || 'member', seed: raw.slice(0, 32), pub: raw.slice(32) };
}

/** Imports a 32-byte Ed25519 seed as a non-extractable signing key. */
export async function importSeed(seed) {
  const der = new Uint8Array(PKCS8_ED25519.length + 32);
  der.set(PKCS8_ED25519);
  der.set(seed, PKCS8_ED25519.length);
  return subtle.importKey('pkcs8', der, { name: 'Ed25519' }, false, ['sign']);
}

/**
 * Turns a parsed key file into a signer {id, role, pub (base64), key}.
 * It signs a probe and verifies it with the file's public half, so a
 * corrupted file fails here instead of at the ledger.
 */
export async function signerFromKeyFile(parsed) {
  const key = await importSeed(parsed.seed);
  const pubKey = await subtle.importKey('raw', parsed.pub, { name: 'Ed25519' }, false, ['verify']);
  const probe = utf8.encode('gridledger key check');
  const sig = await subtle.sign({ name: 'Ed25519' }, key, probe);
  if (!(await subtle.verify({ name: 'Ed25519' }, pubKey, sig, probe))) {
    throw new Error('the private and public halves of "priv_key" do not match');
  }
  return { id: parsed.id, role: parsed.role, pub: toBase64(parsed.pub), key };
}

/** A fresh key pair whose private half cannot leave the browser. */
export async function generateKey() {
  const pair = await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
  return { key: pair.privateKey, pub: toBase64(pub) };
}

/** Ed25519 signature (64 bytes) of bytes. */
export async function sign(key, bytes) {
  return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, key, bytes));
}

/** The text a signed API request signs (internal/reqsig.SigningBytes). */
export function requestMessage(chainId, method, pathWithQuery, time, nonce) {
  return `${REQUEST_DOMAIN}\n${chainId}\n${method.toUpperCase()}\n${pathWithQuery}\n${time}\n${nonce}`;
}

/** A fresh random nonce: 16 bytes in lowercase hex. Each signature serves once. */
export function newNonce() {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** Wall-clock unix seconds, as the API's ±300 s window expects. */
export const unixNow = () => Math.floor(Date.now() / 1000);

/**
 * The auth of a signed request: {signer, time, nonce, sig}. pathWithQuery
 * is the path and raw query exactly as sent, without the auth query
 * parameters. The server accepts a (signer, nonce) once: sign every
 * request afresh, never resend one.
 */
export async function signRequest(signer, chainId, method, pathWithQuery, time = unixNow(), nonce = newNonce()) {
  const sig = await sign(signer.key, utf8.encode(requestMessage(chainId, method, pathWithQuery, time, nonce)));
  return { signer: signer.id, time: String(time), nonce, sig: toBase64(sig) };
}

/** The auth as request headers. */
export function authHeaders(auth) {
  return {
    'X-Gridledger-Signer': auth.signer,
    'X-Gridledger-Time': auth.time,
    'X-Gridledger-Nonce': auth.nonce,
    'X-Gridledger-Signature': auth.sig,
  };
}

/** The auth as query parameters appended last (EventSource sets no headers). */
export function authQuery(pathWithQuery, auth) {
  const q = new URLSearchParams(auth).toString();
  return pathWithQuery + (pathWithQuery.includes('?') ? '&' : '?') + q;
}

/**
 * The body bytes of a transaction, fields in the ledger's order. `seq` is
 * {registered, nonce}: the height the signer was registered at (its
 * participant record's `registered`, absent and left out for the genesis's
 * participants, as the ledger does) and the nonce, one past the last used.
 */
export function txBody(chainId, signer, { registered = 0, nonce }, type, msg) {
  const body = { chain_id: chainId, signer };
  if (registered) body.registered = registered;
  Object.assign(body, { nonce, type, msg });
  return utf8.encode(JSON.stringify(body));
}

/** A signed transaction's wire bytes; `seq` as for txBody. */
export async function buildTx(signer, chainId, seq, type, msg) {
  const body = txBody(chainId, signer.id, seq, type, msg);
  const sig = await sign(signer.key, body);
  const tx = new Uint8Array(1 + sig.length + body.length);
  tx[0] = TX_VERSION;
  tx.set(sig, 1);
  tx.set(body, 1 + sig.length);
  return tx;
}

/** SHA-256 of bytes. */
export async function sha256(bytes) {
  return new Uint8Array(await subtle.digest('SHA-256', bytes));
}

// Merkle proofs as CometBFT builds them (RFC 6962 leaf and inner prefixes).

const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) {
    out.set(p, i);
    i += p.length;
  }
  return out;
};

/** The leaf hash of a transaction whose hash (SHA-256 of its bytes) is given. */
export const leafHash = (txHash) => sha256(concat([0], txHash));

// Largest power of two strictly less than n (n ≥ 2).
function splitPoint(n) {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The root a proof leads to from a leaf, or null if the proof is malformed. */
export async function rootFromAunts(index, total, leaf, aunts) {
  if (index < 0 || total <= 0 || index >= total) return null;
  if (total === 1) return aunts.length === 0 ? leaf : null;
  if (aunts.length === 0) return null;
  const left = splitPoint(total);
  const rest = aunts.slice(0, -1);
  const last = aunts[aunts.length - 1];
  if (index < left) {
    const h = await rootFromAunts(index, left, leaf, rest);
    return h && sha256(concat([1], h, last));
  }
  const h = await rootFromAunts(index - left, total - left, leaf, rest);
  return h && sha256(concat([1], last, h));
}
