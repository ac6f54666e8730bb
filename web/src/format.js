// Display formats. The API speaks integers: energy in Wh, prices in
// micro-units per kWh, money in nano-units, times in market-time UTC seconds.

export let currency = '€';

/** Sets the currency symbol /api/info announces. */
export function setCurrency(symbol) {
  if (symbol) currency = symbol;
}

const fmt = (min, max) => new Intl.NumberFormat('en-GB', { minimumFractionDigits: min, maximumFractionDigits: max });
const f0 = fmt(0, 0);
const f1 = fmt(1, 1);
const f3 = fmt(3, 3);
const f4 = fmt(4, 4);
const fMoney = fmt(2, 4);

const none = '—';
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** Energy in kWh with 3 decimals: 1234 Wh → "1.234 kWh". */
export const kWh = (wh) => (isNum(wh) ? `${f3.format(wh / 1000)} kWh` : none);

/** kWh as a bare number, for charts and inputs. */
export const toKWh = (wh) => (isNum(wh) ? wh / 1000 : null);

/** A price per kWh with 4 decimals: 95000 → "0.0950 €/kWh". */
export const price = (micro) => (isNum(micro) ? `${f4.format(micro / 1e6)} ${currency}/kWh` : none);

/** A price per kWh as a bare number of currency units, for charts. */
export const toPrice = (micro) => (isNum(micro) ? micro / 1e6 : null);

/** Money with 2 to 4 decimals: 1234567890 nano → "€1.2346". */
export function money(nano) {
  if (!isNum(nano)) return none;
  const sign = nano < 0 ? '−' : '';
  return `${sign}${currency}${fMoney.format(Math.abs(nano) / 1e9)}`;
}

/** A ratio 0–1 as a percentage with one decimal. */
export const pct = (ratio) => (isNum(ratio) ? `${f1.format(ratio * 100)} %` : none);

/** A plain integer with thousands separators. */
export const int = (n) => (isNum(n) ? f0.format(n) : none);

/** Power in kW from W. */
export const kW = (w) => (isNum(w) ? `${f1.format(w / 1000)} kW` : none);

const pad = (n) => String(n).padStart(2, '0');

/** Market time (UTC seconds) as "2026-01-31 13:00". */
export function time(s) {
  if (!isNum(s)) return none;
  const d = new Date(s * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** Market time as "13:00" (the day is usually obvious). */
export function hour(s) {
  if (!isNum(s)) return none;
  const d = new Date(s * 1000);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** An interval [start, end) as "01-31 13:00–14:00". */
export function interval(start, end) {
  if (!isNum(start)) return none;
  const d = new Date(start * 1000);
  return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hour(start)}${isNum(end) ? `–${hour(end)}` : ''}`;
}

/** Real seconds as "4.2 s" or "2 min 05 s". */
export function seconds(s) {
  if (!isNum(s)) return none;
  if (s < 60) return `${f1.format(Math.max(0, s))} s`;
  return `${Math.floor(s / 60)} min ${pad(Math.floor(s % 60))} s`;
}

/** A block time (RFC 3339, wall clock) as UTC "HH:MM:SS.mmm": blocks come several a second. */
export function clock(rfc3339) {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return none;
  return d.toISOString().slice(11, 23);
}

/** A long hash shortened for tables: "AB12CD…9F". */
export const short = (hash, n = 8) => (typeof hash === 'string' && hash.length > n + 4 ? `${hash.slice(0, n)}…${hash.slice(-4)}` : hash ?? none);
