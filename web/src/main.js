// The dashboard's shell: header, navigation and a hash router. Each page
// module exports render(root, ctx); ctx tears down whatever the page set up
// (fetches, stream subscriptions, timers, charts) when another page opens.

import './style.css';
import { h, fill, note } from './dom.js';
import { loadInfo, subscribe, onStreamStatus, isAbort } from './api.js';
import { setCurrency, int } from './format.js';
import * as market from './pages/market.js';
import * as history from './pages/history.js';
import * as community from './pages/community.js';
import * as member from './pages/member.js';
import * as dso from './pages/dso.js';
import * as operator from './pages/operator.js';
import * as explorer from './pages/explorer.js';

const pages = { market, history, community, member, dso, operator, explorer };
const titles = {
  market: 'Market',
  history: 'History',
  community: 'Community',
  member: 'Member',
  dso: 'DSO',
  operator: 'Operator',
  explorer: 'Explorer',
};

const main = h('main', { id: 'page', tabindex: '-1' });
const heightEl = h('span', { testid: 'header-height' }, '—');
const liveDot = h('span', { class: 'dot', title: 'live stream' });
const chainEl = h('span', { class: 'chain', testid: 'chain' });
const navLinks = Object.entries(titles).map(([id, label]) => h('a', { href: `#/${id}`, dataset: { page: id } }, label));
const nav = h('nav', { class: 'nav', 'aria-label': 'pages' }, navLinks);

document.body.append(
  h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/market' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '⚡'), 'gridledger'),
    chainEl,
    h('span', { class: 'live' }, liveDot, 'block ', heightEl),
  ),
  nav,
  main,
  h(
    'footer',
    { class: 'foot' },
    'A renewable energy community trading peer to peer on a BFT ledger · ',
    h('a', { href: './api/openapi.json' }, 'API (OpenAPI)'),
  ),
);

let height = 0;
const showHeight = (n) => {
  if (Number.isFinite(n) && n >= height) {
    height = n;
    heightEl.textContent = int(n);
  }
};
subscribe('block', (b) => showHeight(b.height));
onStreamStatus((up) => liveDot.classList.toggle('up', up));

let current = null; // {name, ctrl, cleanups}
let seq = 0;

function route() {
  const parts = (location.hash.replace(/^#\/?/, '') || 'market').split('/').map(decodeURIComponent);
  const name = pages[parts[0]] ? parts[0] : 'market';
  return { name, params: parts.slice(1) };
}

function leave() {
  if (!current) return;
  current.ctrl.abort();
  for (const f of current.cleanups.splice(0)) {
    try {
      f();
    } catch {
      /* a failing cleanup must not block the next page */
    }
  }
  current = null;
}

async function show() {
  leave();
  const { name, params } = route();
  const id = ++seq;
  const ctrl = new AbortController();
  const cleanups = [];
  current = { name, ctrl, cleanups };
  delete document.body.dataset.ready;
  document.title = `${titles[name]} · gridledger`;
  for (const a of navLinks) a.classList.toggle('active', a.dataset.page === name);
  // On a phone the bar scrolls sideways: bring the current page into view.
  const active = navLinks.find((a) => a.dataset.page === name);
  if (active.offsetLeft + active.offsetWidth > nav.scrollLeft + nav.clientWidth || active.offsetLeft < nav.scrollLeft) {
    nav.scrollLeft = active.offsetLeft - 8;
  }
  main.dataset.page = name;
  fill(main);

  const alive = () => id === seq;
  const ctx = {
    params,
    signal: ctrl.signal,
    alive,
    cleanup: (f) => cleanups.push(f),
    on: (event, f) => {
      const off = subscribe(event, (d) => alive() && f(d));
      cleanups.push(off);
      return off;
    },
    every: (ms, f) => {
      const t = setInterval(() => alive() && f(), ms);
      cleanups.push(() => clearInterval(t));
    },
    // Tests wait on body[data-ready=page] before looking at the page.
    // The mark times it (first-load figure).
    ready: () => {
      if (!alive() || document.body.dataset.ready === name) return;
      document.body.dataset.ready = name;
      performance.mark(`ready:${name}`);
    },
  };
  try {
    await pages[name].render(main, ctx);
  } catch (err) {
    if (isAbort(err) || !alive()) return;
    main.append(note('error', `This page could not load: ${err.message}`, 'page-error'));
    ctx.ready();
  }
}

window.addEventListener('hashchange', show);

// The chain's identity and clock first: every page reads market time.
loadInfo()
  .then((info) => {
    setCurrency(info.currency);
    chainEl.textContent = [info.moniker, info.chain_id].filter(Boolean).join(' · ');
    showHeight(info.height);
  })
  .catch(() => {
    chainEl.textContent = 'API unreachable';
  })
  .finally(show);
