// A few DOM helpers: no framework, just elements built from data. Text is
// always set as text, never parsed as HTML, so ledger data cannot inject markup.

/**
 * Creates an element: h('p', {class: 'x', testid: 'y', onclick}, 'text', child…).
 * Attributes: class, testid (→ data-testid), on* listeners, dataset, and
 * anything else as an attribute (false/null/undefined skip it).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'testid') el.dataset.testid = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A notice: kind is "info", "empty", "error" or "ok". */
export const note = (kind, text, testid) => h('p', { class: `note note-${kind}`, role: kind === 'error' ? 'alert' : null, testid }, text);

/** A loading placeholder. */
export const loading = (what = 'Loading…') => h('p', { class: 'note note-info loading' }, what);

/** A titled panel. */
export const card = (title, attrs, ...body) => h('section', { class: 'card', ...attrs }, title ? h('h2', {}, title) : null, ...body);

/** One figure: a big value, its label and an optional one-line explanation. */
export const stat = (label, value, help, testid) =>
  h('div', { class: 'stat', testid }, h('div', { class: 'stat-value' }, value), h('div', { class: 'stat-label' }, label), help ? h('div', { class: 'stat-help' }, help) : null);

/**
 * A table that scrolls sideways on narrow screens.
 * columns: [{label, value: row => text|Node, num: bool}]; empty: text when no
 * rows; limit: at most this many rows, saying how many there are.
 */
export function table(columns, rows, { empty = 'Nothing yet.', testid, rowTestid, limit = Infinity } = {}) {
  if (!rows || rows.length === 0) return note('empty', empty, testid && `${testid}-empty`);
  const more = rows.length > limit ? h('p', { class: 'muted small' }, `The latest ${limit} of ${rows.length}.`) : null;
  rows = rows.slice(0, limit);
  const wrap = h(
    'div',
    { class: 'table-wrap', testid },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
      h(
        'tbody',
        {},
        rows.map((r) => h('tr', { testid: rowTestid }, columns.map((c) => h('td', { class: c.num ? 'num' : null }, c.value(r))))),
      ),
    ),
  );
  return more ? h('div', {}, wrap, more) : wrap;
}

/** A hash link inside the dashboard. */
export const link = (href, text, attrs = {}) => h('a', { href, ...attrs }, text);
