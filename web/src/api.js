// The REST API (same origin, under /api/) and its Server-Sent Events stream.

import { signRequest, authHeaders, authQuery, toBase64 } from './sign.js';

/** An API refusal: HTTP status plus the ledger's stable {code, name, message}. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code;
    this.apiName = body?.name || `http_${status}`;
  }
}

/**
 * Wraps a refresh so that bursts of events coalesce: one run at a time, at
 * most one every ms, and a call during a run or the pause runs once more
 * after it (the last event is never lost). Returns the trigger; .cancel()
 * stops a pending run.
 */
export function coalesce(fn, ms = 0) {
  let running = false;
  let again = false;
  let last = 0;
  let timer = null;
  const run = async () => {
    timer = null;
    running = true;
    again = false;
    last = Date.now();
    try {
      await fn();
    } catch {
      /* fn reports its own errors */
    } finally {
      running = false;
      if (again) trigger();
    }
  };
  const trigger = () => {
    if (running) again = true;
    else if (!timer) timer = setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  trigger.cancel = () => clearTimeout(timer);
  return trigger;
}

/** Whether an error is only the page being left (fetch aborted). */
export const isAbort = (err) => err?.name === 'AbortError';

async function parse(res) {
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { message: text.slice(0, 200) };
  }
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

let infoCache = null;

/**
 * GET a JSON document. With a signer, the request is signed (private reads):
 * the signature covers the path and query exactly as sent.
 */
export async function get(path, { signal, signer } = {}) {
  const headers = { Accept: 'application/json' };
  if (signer) Object.assign(headers, authHeaders(await signRequest(signer, (await chainInfo()).chain_id, 'GET', path)));
  return parse(await fetch(path, { headers, signal }));
}

/** Sends a signed transaction; wait=true returns once it is in a block. */
export async function postTx(txBytes, { wait = false, signal } = {}) {
  const res = await fetch(`/api/txs${wait ? '?wait=commit' : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ tx: toBase64(txBytes) }),
    signal,
  });
  return parse(res);
}

/** /api/info, refreshed: also re-anchors the market clock. */
export async function loadInfo(signal) {
  const info = await get('/api/info', { signal });
  infoCache = info;
  clock.anchor(info.market_time, Date.parse(info.latest_block_time), info.time_scale);
  return info;
}

/** The cached /api/info (chain id, time scale…), loading it once. */
export async function chainInfo() {
  return infoCache ?? loadInfo();
}

/**
 * Market time runs time_scale market seconds per real second. The clock is
 * anchored on a block (its market time and wall time) and interpolated.
 */
export const clock = {
  market: 0,
  wallMs: 0,
  scale: 1,
  anchor(market, wallMs, scale) {
    if (!Number.isFinite(market)) return;
    this.market = market;
    this.wallMs = Number.isFinite(wallMs) ? wallMs : Date.now();
    if (scale > 0) this.scale = scale;
  },
  /** Market seconds now (fractional). */
  now() {
    return this.market + ((Date.now() - this.wallMs) / 1000) * this.scale;
  },
  /** Real seconds until a market time. */
  realUntil(marketTime) {
    return (marketTime - this.now()) / this.scale;
  },
};

// One EventSource for the public stream, shared by every page; pages
// subscribe to event names and unsubscribe when they are left.
const handlers = new Map(); // event name → Set of functions
const statusHandlers = new Set();
let source = null;

function ensureSource() {
  if (source) return;
  source = new EventSource('/api/events');
  source.onopen = () => statusHandlers.forEach((f) => f(true));
  source.onerror = () => statusHandlers.forEach((f) => f(false));
  for (const name of handlers.keys()) listen(name);
}

const listening = new Set();
function listen(name) {
  if (!source || listening.has(name)) return;
  listening.add(name);
  source.addEventListener(name, (ev) => {
    let data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return; // not ours to show
    }
    for (const f of handlers.get(name) ?? []) f(data);
  });
}

/** Calls fn(data) for every event of that name; returns the unsubscribe. */
export function subscribe(name, fn) {
  if (!handlers.has(name)) handlers.set(name, new Set());
  handlers.get(name).add(fn);
  ensureSource();
  listen(name);
  return () => handlers.get(name)?.delete(fn);
}

/** Calls fn(connected) when the stream connects or drops. */
export function onStreamStatus(fn) {
  statusHandlers.add(fn);
  ensureSource();
  if (source.readyState === EventSource.OPEN) fn(true);
  return () => statusHandlers.delete(fn);
}

// The block clock follows the stream: each block re-anchors market time.
subscribe('block', (b) => {
  if (Number.isFinite(b.market_time)) clock.anchor(b.market_time, Date.parse(b.time), clock.scale);
});

/**
 * A signed subscription (a member's own meter readings). A signed URL serves
 * one connection (its nonce is used up, and its time is valid for ±300 s), so
 * instead of letting EventSource reconnect with the same URL, which the API
 * refuses, an error closes it and a fresh URL is signed after a pause. When
 * the server revokes the subscription (its signer was suspended), fn gets
 * ('revoked', {reason}) and nothing is re-signed.
 */
export function signedStream(signer, names, fn) {
  let es = null;
  let timer = null;
  let closed = false;
  const open = async () => {
    const info = await chainInfo();
    if (closed) return;
    const auth = await signRequest(signer, info.chain_id, 'GET', '/api/events');
    if (closed) return;
    es = new EventSource(authQuery('/api/events', auth));
    for (const name of names) {
      es.addEventListener(name, (ev) => {
        try {
          fn(name, JSON.parse(ev.data));
        } catch {
          /* a malformed event is skipped */
        }
      });
    }
    es.addEventListener('revoked', (ev) => {
      closed = true;
      es.close();
      let data = {};
      try {
        data = JSON.parse(ev.data);
      } catch {
        /* the reason is optional */
      }
      fn('revoked', data);
    });
    es.onerror = () => {
      es.close();
      if (!closed) timer = setTimeout(open, 3000);
    };
  };
  open().catch(() => {
    if (!closed) timer = setTimeout(open, 3000);
  });
  return () => {
    closed = true;
    clearTimeout(timer);
    es?.close();
  };
}
