// Depot's web console: one ES module, no dependencies, served by the binary itself.
//
// Security: the page runs under a strict Content-Security-Policy (no inline script or style), so
// everything here builds DOM nodes and sets text with textContent, never HTML from data. The API
// token lives in an HttpOnly cookie; every request that changes something echoes the readable
// depot_csrf cookie in X-CSRF-Token, which a forged cross-site request cannot know.
//
// Speed: every list renders its first page only and loads the next one when its "Load more"
// button scrolls into view (or is clicked).

const PAGE = 50;
const $ = (id) => document.getElementById(id);

// ---- DOM ------------------------------------------------------------------------------------

/** Builds an element: props are attributes, except class/text/on*, and value/checked/disabled
 *  (set as properties after the children, so a select's value finds its options). */
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  add(el, kids);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value' || k === 'checked' || k === 'disabled') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  return el;
}
function add(el, ...kids) {
  for (const k of kids.flat(Infinity)) {
    if (k != null && k !== false) el.append(k instanceof Node ? k : String(k));
  }
  return el;
}
const clear = (el, ...kids) => { el.replaceChildren(); return add(el, kids); };
const th = (text, props) => h('th', { scope: 'col', ...props, text });
const td = (...kids) => h('td', null, ...kids);
const link = (href, text, props) => h('a', { href, ...props }, text);
const chip = (text, cls) => h('span', { class: 'chip ' + (cls || '') }, text);
const section = (title, ...kids) => h('section', { class: 'card' }, h('h2', { text: title }), ...kids);
const muted = (text) => h('span', { class: 'muted', text });
const field = (label, input) => h('label', { class: 'field' }, h('span', { text: label }), input);
const button = (text, onclick, cls, props) => h('button', { type: 'button', class: cls, onclick, ...props }, text);
const tableWrap = (table) => h('div', { class: 'scroll' }, table);
/** Labels a row's cells, for the card layout of lists on phones. */
function labelled(tr, labels) {
  [...tr.cells].forEach((c, i) => { if (labels[i]) c.dataset.label = labels[i]; });
  return tr;
}

function time(iso) {
  if (!iso) return muted('—');
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  const text = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return h('time', { datetime: iso, title: iso }, text);
}
function bytes(n) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(1) : n} ${units[i]}`;
}
function num(v) {
  if (typeof v !== 'number') return typeof v === 'string' ? v : JSON.stringify(v);
  return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
}
const digest = (d) => h('code', { title: d, class: 'digest' }, d.replace(/^sha256:/, '').slice(0, 12));
const vlink = (model, v) => link(`#/models/${enc(model)}/versions/${v}`, `v${v}`);
const enc = encodeURIComponent;
/** Only same-origin paths from the server become links (never javascript: or another site). */
const safePath = (u) => typeof u === 'string' && /^\/(?![/\\])/.test(u) ? u : '#';

/** A message above the page: errors stay until the next one, successes fade. */
function notify(text, kind = 'ok') {
  const box = $('msg');
  clear(box, h('div', { class: 'note ' + kind, role: kind === 'error' ? 'alert' : null },
    h('span', { text }), button('×', () => box.replaceChildren(), 'plain', { 'aria-label': 'Dismiss' })));
  if (kind !== 'error') setTimeout(() => box.firstChild?.textContent.startsWith(text) && box.replaceChildren(), 8000);
}
const fail = (e) => notify(e.message || String(e), 'error');

/** A confirmation in a DOM dialog (not window.confirm): resolves true when confirmed. */
function confirmDialog(title, message, ok = 'Confirm') {
  return new Promise((resolve) => {
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title', text: title }),
      h('p', { class: 'dialog-message', text: message }),
      h('div', { class: 'row end' },
        button('Cancel', () => dlg.close('cancel'), 'secondary'),
        button(ok, () => dlg.close('ok'), 'danger', { 'data-confirm': true })));
    dlg.addEventListener('close', () => { dlg.remove(); resolve(dlg.returnValue === 'ok'); });
    document.body.append(dlg);
    dlg.showModal();
  });
}

// ---- API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}
function csrf() {
  const m = document.cookie.match(/(?:^|;\s*)depot_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}
/** Calls the API with the session cookie; non-GET requests carry the CSRF header. Answers
 *  {status, data}; throws ApiError with the server's message. */
async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf();
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new ApiError(0, 'network', `The server cannot be reached (${e.message}).`);
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) {
    if (res.status === 401 && path !== '/console/session') loggedOut();
    throw new ApiError(res.status, data?.code || 'http', data?.message || `${res.status} ${res.statusText}`);
  }
  return { status: res.status, data };
}
const get = async (path) => (await api('GET', path)).data;
/** GET that answers null on 404 (a model that is not deployed). */
const maybe = (path) => get(path).catch((e) => { if (e.status === 404) return null; throw e; });
function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null && v !== false) q.set(k, v);
  const s = q.toString();
  return s ? '?' + s : '';
}
const M = (name) => `/v1/models/${enc(name)}`;

// ---- who may do what ------------------------------------------------------------------------

let me = null;
const PERMS = {
  reader: ['read', 'predict'], predictor: ['predict'], pusher: ['read', 'predict', 'push'],
  deployer: ['read', 'predict', 'deploy'], admin: ['read', 'predict', 'push', 'deploy', 'admin'],
};
const covers = (pattern, model) => pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model;
/** Whether a grant gives `perm` on `model` (on some model when model is null). */
const can = (perm, model) => !!me && me.grants.some((g) => (PERMS[g.role] || []).includes(perm) && (model == null || covers(g.models, model)));
/** Moving an alias: deployers any, pushers only unprotected ones. */
const canMoveAlias = (model, alias, protection) =>
  can('deploy', model) || (can('push', model) && !(protection?.aliases || []).includes(alias));

// ---- routing --------------------------------------------------------------------------------

const routes = [
  [/^\/models$/, pageModels],
  [/^\/models\/([^/]+)$/, pageModel],
  [/^\/models\/([^/]+)\/versions\/(\d+)$/, pageVersion],
  [/^\/models\/([^/]+)\/compare$/, pageCompare],
  [/^\/models\/([^/]+)\/deployment$/, pageDeployment],
  [/^\/approvals$/, pageApprovals],
  [/^\/audit$/, pageAudit],
  [/^\/tokens$/, pageTokens],
];
let generation = 0;
/** Whether the page that started with `gen` is still the one shown. */
const current = (gen) => gen === generation;

function route() {
  const raw = location.hash.slice(1) || '/models';
  const i = raw.indexOf('?');
  return { path: i < 0 ? raw : raw.slice(0, i), params: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}
/** Changes the query of the current route without rendering the page again. */
function setQuery(params) {
  history.replaceState(null, '', '#' + route().path + qs(params));
}

async function render() {
  const gen = ++generation;
  const { path, params } = route();
  if (!me) {
    try {
      me = await get('/v1/whoami');
    } catch (e) {
      if (e.status !== 401) { clear($('app'), h('p', { class: 'box error', text: e.message })); return; }
      return loginPage();
    }
    if (!current(gen)) return;
  }
  header(path);
  const view = h('div', { class: 'view' });
  clear($('app'), view);
  for (const [re, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    try {
      await page(view, gen, params, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (current(gen) && e.status !== 401) add(view, h('p', { class: 'box error', role: 'alert', text: e.message }));
    }
    return;
  }
  add(view, h('h1', { text: 'Not found' }), h('p', null, 'No page here. ', link('#/models', 'Models')));
}

function header(path) {
  const items = [['#/models', 'Models'], ['#/approvals', 'Approvals'], ['#/audit', 'Audit log']];
  if (can('admin')) items.push(['#/tokens', 'Tokens']);
  clear($('nav'), items.map(([href, text]) =>
    link(href, text, { 'aria-current': path.startsWith(href.slice(1)) ? 'page' : null })));
  clear($('user'), h('span', { class: 'who', title: me.grants.map((g) => `${g.role} on ${g.models}`).join(', ') }, me.principal),
    button('Log out', logOut, 'secondary small'));
}

function loggedOut() {
  me = null;
  $('nav').replaceChildren();
  $('user').replaceChildren();
  if (!document.getElementById('login')) loginPage();
}
async function logOut() {
  try { await api('DELETE', '/console/session'); } catch (e) { fail(e); }
  loggedOut();
}

function loginPage() {
  generation++;
  $('nav').replaceChildren();
  $('user').replaceChildren();
  const token = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true, placeholder: 'depot_…' });
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h('form', { id: 'login', class: 'card narrow' },
    h('h1', { text: 'Sign in to Depot' }),
    field('API token', token),
    error,
    h('button', { type: 'submit', text: 'Sign in' }),
    h('p', { class: 'muted small', text: 'An API token (depot_…): an administrator creates one under Tokens or with POST /v1/tokens. The console keeps it in an HttpOnly session cookie for 12 hours.' }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    try {
      me = (await api('POST', '/console/session', { token: token.value.trim() })).data;
      $('msg').replaceChildren();
      render();
    } catch (e) {
      error.textContent = e.message;
    }
  });
  clear($('app'), form);
  token.focus();
}

// ---- lists ----------------------------------------------------------------------------------

/** Cursor paging: loads a page with `load(cursor)` → {items, next}, gives each item to
 *  `onItems`, and offers the next page with a button that also fires when scrolled into view. */
function pager(container, gen, load, onItems) {
  let next = null, busy = false, count = 0, seq = 0;
  const status = h('span', { class: 'muted small' });
  const more = button('Load more', () => page(false), 'secondary', { 'data-more': true, hidden: true });
  container.append(h('div', { class: 'pager' }, more, status));
  const seen = new IntersectionObserver((es) => { if (es.some((e) => e.isIntersecting)) page(false); });
  // A first page starts afresh (a new search): answers to older requests are dropped.
  async function page(first) {
    if (!current(gen) || (!first && (busy || !next))) return;
    const mine = first ? ++seq : seq;
    busy = true;
    more.disabled = true;
    try {
      const { items, next: cursor } = await load(first ? null : next);
      if (!current(gen) || mine !== seq) return;
      next = cursor || null;
      count = (first ? 0 : count) + items.length;
      onItems(items, first);
      status.textContent = next ? `${count} shown` : count > PAGE ? `${count} shown, all loaded` : '';
      more.hidden = !next;
      if (next) requestAnimationFrame(() => { seen.unobserve(more); seen.observe(more); }); else seen.disconnect();
    } catch (e) {
      if (current(gen) && mine === seq) fail(e);
    } finally {
      if (mine === seq) { busy = false; more.disabled = false; }
    }
  }
  return { reload: () => page(true), get count() { return count; } };
}

/** Runs `task`s at most `limit` at a time (per-row details of a list). */
function queue(limit) {
  const waiting = [];
  let running = 0;
  const pump = () => {
    while (running < limit && waiting.length) {
      const task = waiting.shift();
      running++;
      task().finally(() => { running--; pump(); });
    }
  };
  return (task) => { waiting.push(task); pump(); };
}

function debounce(fn, ms) {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

const serving = (dep) => !dep ? muted('not deployed') : h('span', null, chip(`v${dep.version}`, 'deployed'),
  dep.canary ? [' ', chip(`canary v${dep.canary.version} · ${dep.canary.percent}%`, 'canary')] : null);
const aliasChips = (model, aliases) => aliases.length
  ? aliases.map((a) => [chip(`${a.alias} → v${a.version}`, 'alias'), ' '])
  : muted('—');

// ---- models ---------------------------------------------------------------------------------

async function pageModels(view, gen, params) {
  const prefix = h('input', { type: 'search', name: 'prefix', placeholder: 'Name starts with…', value: params.get('prefix') || '', 'aria-label': 'Search models by name' });
  const tag = h('input', { type: 'search', name: 'tag', placeholder: 'Tag', value: params.get('tag') || '', 'aria-label': 'Filter by tag' });
  const tbody = h('tbody');
  const labels = ['Model', 'Deployed', 'Aliases', 'Versions', 'Tags', 'Last change'];
  const table = h('table', { class: 'list cards', id: 'models' }, h('thead', null, h('tr', null, labels.map((l) => th(l)))), tbody);
  const wrap = tableWrap(table);
  add(view, h('div', { class: 'title' }, h('h1', { text: 'Models' })),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); refresh(); } }, prefix, tag), wrap);

  // Deployed version and aliases come from two small calls per model, made for rows on screen.
  const run = queue(4);
  const details = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      details.unobserve(e.target);
      const row = e.target, name = row.dataset.model;
      run(async () => {
        if (!current(gen)) return;
        try {
          const [dep, al] = await Promise.all([maybe(`${M(name)}/deployment`), get(`${M(name)}/aliases`)]);
          clear(row.cells[1], serving(dep));
          clear(row.cells[2], aliasChips(name, al.aliases));
        } catch { clear(row.cells[1], muted('?')); }
      });
    }
  }, { rootMargin: '200px' });

  const list = pager(view, gen,
    async (cursor) => {
      const d = await get(`/v1/models${qs({ prefix: prefix.value.trim().toLowerCase(), tag: tag.value.trim(), limit: PAGE, cursor })}`);
      return { items: d.models, next: d.next_cursor };
    },
    (models, first) => {
      if (first) tbody.replaceChildren();
      if (first && !models.length) tbody.append(h('tr', null, h('td', { colspan: 6, class: 'muted', text: 'No models match.' })));
      for (const m of models) {
        const row = h('tr', { 'data-model': m.name },
          td(link(`#/models/${enc(m.name)}`, m.name, { class: 'strong' }), m.description ? h('div', { class: 'muted small', text: m.description }) : null),
          td(muted('…')), td(muted('…')),
          td(String(m.version_count), m.latest_version ? muted(` (latest v${m.latest_version})`) : null),
          td(m.tags.map((t) => [button(t, () => { tag.value = t; refresh(); }, 'chip tag', { title: `Only models tagged ${t}` }), ' '])),
          td(time(m.updated_at)));
        tbody.append(labelled(row, labels));
        details.observe(row);
      }
    });
  const refresh = () => {
    setQuery({ prefix: prefix.value.trim(), tag: tag.value.trim() });
    return list.reload();
  };
  const typed = debounce(refresh, 250);
  prefix.addEventListener('input', typed);
  tag.addEventListener('input', typed);
  await list.reload();
}

// ---- a model --------------------------------------------------------------------------------

function metricNames(versions) {
  const names = new Set();
  for (const v of versions) for (const k of Object.keys(v.metadata?.metrics || {})) names.add(k);
  return [...names].sort();
}

async function pageModel(view, gen, params, name) {
  const order = params.get('order') === 'asc' ? 'asc' : 'desc';
  const sortBy = params.get('sort') || '';
  const versionsPage = (cursor, serverOrder) => get(`${M(name)}/versions${qs({ limit: PAGE, cursor, order: serverOrder })}`);
  // The first page of versions is asked for at once, beside the model's own calls.
  let firstPage = versionsPage(null, sortBy ? 'desc' : order);
  firstPage.catch(() => {});
  const [model, aliasList, dep] = await Promise.all([get(M(name)), get(`${M(name)}/aliases`), maybe(`${M(name)}/deployment`)]);
  if (!current(gen)) return;
  const byVersion = new Map();
  for (const a of aliasList.aliases) byVersion.set(a.version, [...(byVersion.get(a.version) || []), a.alias]);

  const selected = new Set();
  const compare = button('Compare selected', () => { location.hash = `#/models/${enc(name)}/compare?v=${[...selected].sort((a, b) => a - b).join(',')}`; }, null, { disabled: true, id: 'compare' });
  const sort = h('select', { name: 'sort', 'aria-label': 'Sort versions' });
  const tbody = h('tbody');
  const versions = [];

  add(view,
    h('div', { class: 'title' }, h('h1', null, muted('Model '), model.name),
      h('div', { class: 'row' }, link(`#/models/${enc(name)}/deployment`, 'Deployment', { class: 'button secondary' }))),
    model.description ? h('p', { text: model.description }) : null,
    h('dl', { class: 'facts' },
      h('dt', { text: 'Serving' }), h('dd', null, serving(dep)),
      h('dt', { text: 'Aliases' }), h('dd', null, aliasChips(name, aliasList.aliases)),
      h('dt', { text: 'Versions' }), h('dd', { text: String(model.version_count) }),
      h('dt', { text: 'Tags' }), h('dd', null, model.tags.length ? model.tags.map((t) => [link(`#/models?tag=${enc(t)}`, t, { class: 'chip tag' }), ' ']) : muted('—')),
      h('dt', { text: 'Created' }), h('dd', null, time(model.created_at), ` by ${model.created_by}`),
      h('dt', { text: 'Last change' }), h('dd', null, time(model.updated_at))),
    trafficCharts(name),
    h('div', { class: 'title' }, h('h2', { text: 'Versions' }), h('div', { class: 'row' }, field('Sort', sort), compare)));
  const labels = ['Compare', 'Version', 'Created', 'By', 'Format', 'Servable', 'Size', 'Digest', 'Metrics', 'Tags', 'Aliases', 'Serving'];
  const table = h('table', { class: 'list cards', id: 'versions' },
    h('thead', null, h('tr', null, th('', { 'aria-label': 'Select' }), labels.slice(1).map((l) => th(l)))), tbody);
  add(view, tableWrap(table));

  const row = (v) => {
    const box = h('input', { type: 'checkbox', 'aria-label': `Select version ${v.version}`, checked: selected.has(v.version) });
    box.addEventListener('change', () => {
      box.checked ? selected.add(v.version) : selected.delete(v.version);
      compare.disabled = selected.size < 2;
      compare.textContent = `Compare selected (${selected.size})`;
    });
    const metrics = Object.entries(v.metadata?.metrics || {});
    return labelled(h('tr', { 'data-version': v.version },
      td(box), td(vlink(name, v.version)), td(time(v.created_at)), td(v.created_by), td(v.format),
      td(v.servable ? 'yes' : h('span', { title: v.unservable_reason || '', class: 'warn' }, 'no')),
      h('td', { class: 'num' }, bytes(v.size_bytes)), td(digest(v.digest)),
      td(metrics.length ? metrics.map(([k, x]) => h('span', { class: 'metric' }, `${k} `, h('b', null, num(x)))) : muted('—')),
      td(v.tags.map((t) => [chip(t), ' '])),
      td((byVersion.get(v.version) || []).map((a) => [chip(a, 'alias'), ' '])),
      td(dep?.version === v.version ? chip('deployed', 'deployed') : null,
        dep?.canary?.version === v.version ? chip(`canary ${dep.canary.percent}%`, 'canary') : null)), labels);
  };
  const metricValue = (v, k) => v.metadata?.metrics?.[k];
  function fillSort() {
    const value = sort.value || (sortBy ? sortBy : order);
    clear(sort, h('option', { value: 'desc', text: 'Newest first' }), h('option', { value: 'asc', text: 'Oldest first' }),
      metricNames(versions).flatMap((k) => [h('option', { value: `-${k}`, text: `${k}, highest first` }), h('option', { value: `+${k}`, text: `${k}, lowest first` })]));
    sort.value = [...sort.options].some((o) => o.value === value) ? value : order;
  }
  function paint() {
    const s = sort.value;
    let shown = versions;
    if (s[0] === '-' || s[0] === '+') {
      const k = s.slice(1), dir = s[0] === '-' ? -1 : 1;
      shown = [...versions].sort((a, b) => {
        const x = metricValue(a, k), y = metricValue(b, k);
        if (x == null || y == null) return (x == null) - (y == null);
        return dir * (x - y);
      });
    }
    tbody.replaceChildren(...shown.map(row));
    if (!shown.length) tbody.append(h('tr', null, h('td', { colspan: 12, class: 'muted', text: 'No versions yet.' })));
  }
  const list = pager(view, gen,
    async (cursor) => {
      const early = !cursor && firstPage;
      firstPage = null;
      const d = await (early || versionsPage(cursor, sort.value === 'asc' ? 'asc' : 'desc'));
      return { items: d.versions, next: d.next_cursor };
    },
    (items, first) => {
      if (first) versions.length = 0;
      versions.push(...items);
      fillSort();
      const s = sort.value;
      if (first || s[0] === '-' || s[0] === '+') paint();
      else tbody.append(...items.map(row));
    });
  add(view, h('p', { class: 'muted small', id: 'sort-note', text: 'Sorting by a metric orders the versions loaded so far; load more to include older ones.' }));
  sort.addEventListener('change', () => {
    const s = sort.value;
    setQuery(s === 'desc' ? {} : s === 'asc' ? { order: 'asc' } : { sort: s });
    if (s === 'asc' || s === 'desc') list.reload(); else paint();
  });
  fillSort();
  if (sortBy) sort.value = sortBy;
  await list.reload();
  if (sortBy && [...sort.options].some((o) => o.value === sortBy)) { sort.value = sortBy; paint(); }
}

// ---- a version ------------------------------------------------------------------------------

// ---- Traffic charts ---------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const k of kids) el.append(k);
  return el;
}

/** One series as a line over the last hour, with its latest value. */
function lineChart(title, points, format) {
  const W = 300, H = 80, end = Date.now(), start = end - 3600e3;
  const values = points.map((p) => p.value);
  const top = Math.max(...values, 0) || 1;
  const x = (t) => ((Date.parse(t) - start) / 3600e3) * W;
  const y = (v) => H - 4 - (v / top) * (H - 8);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const last = points.length ? format(points[points.length - 1].value) : '—';
  return h('figure', { class: 'chart' },
    h('figcaption', null, title, ' ', h('b', { text: last })),
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}, last hour` },
      svg('line', { x1: 0, y1: H - 4, x2: W, y2: H - 4, class: 'axis' }),
      path ? svg('path', { d: path, class: 'series' }) : svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'no traffic')),
    h('span', { class: 'muted', text: `max ${format(top)} · last hour` }));
}

/** The model's last hour across every replica, from the Prometheus the server is given
 *  (console.prometheus_url); a note when there is none. */
function trafficCharts(name) {
  const card = h('section', { class: 'card', id: 'metrics-charts' }, h('h2', { text: 'Traffic, last hour' }), muted('Loading…'));
  get(`/v1/models/${enc(name)}/traffic`).then((t) => {
    if (!t.source) {
      clear(card, h('h2', { text: 'Traffic, last hour' }),
        muted('No charts: the server has no Prometheus to ask (set console.prometheus_url).'));
      return;
    }
    const ms = (v) => `${(v * 1e3).toFixed(v < 0.01 ? 2 : 1)} ms`;
    clear(card, h('h2', { text: 'Traffic, last hour' }), h('div', { class: 'charts' },
      lineChart('Requests/s', t.requests_per_s, (v) => v.toFixed(v < 10 ? 2 : 0)),
      lineChart('Errors', t.error_ratio, (v) => `${(v * 100).toFixed(1)}%`),
      lineChart('p99', t.p99_s, ms)));
  }).catch((e) => clear(card, h('h2', { text: 'Traffic, last hour' }), muted(e.message)));
  return card;
}

function kv(obj, empty = '—') {
  const entries = Object.entries(obj || {}).filter(([, v]) => v != null);
  if (!entries.length) return muted(empty);
  return h('dl', { class: 'facts' }, entries.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: num(v) })]));
}

function tensors(title, specs) {
  return h('div', null, h('h3', { text: title }), tableWrap(h('table', { class: 'list' },
    h('thead', null, h('tr', null, th('Name'), th('Kind'), th('Type'), th('Shape'), th('As declared'))),
    h('tbody', null, specs.map((t) => h('tr', null, td(h('code', null, t.name)), td(t.kind), td(t.datatype || '—'),
      td(t.shape ? `[${t.shape.map((d, i) => d < 0 ? (t.dim_names?.[i] || '?') : d).join(', ')}]` : muted('unknown rank')),
      td(h('code', null, t.type_name))))))));
}

async function pageVersion(view, gen, params, name, number) {
  const [v, aliasList, dep] = await Promise.all([get(`${M(name)}/versions/${number}`), get(`${M(name)}/aliases`), maybe(`${M(name)}/deployment`)]);
  if (!current(gen)) return;
  const md = v.metadata || {};
  const aliases = aliasList.aliases.filter((a) => a.version === v.version).map((a) => a.alias);
  const n = v.version;
  add(view,
    h('p', { class: 'crumbs' }, link('#/models', 'Models'), ' / ', link(`#/models/${enc(name)}`, name), ' / ', `v${n}`),
    h('div', { class: 'title' }, h('h1', null, muted(`${name} `), `version ${n}`),
      h('div', { class: 'row' },
        h('a', { href: safePath(v.artifact_url), download: `${name}-v${n}`, class: 'button', id: 'download' }, 'Download artifact'),
        n > 1 ? link(`#/models/${enc(name)}/compare?v=${n - 1},${n}`, `Compare with v${n - 1}`, { class: 'button secondary' }) : null,
        link(`#/models/${enc(name)}/deployment`, 'Deployment', { class: 'button secondary' }))),
    v.description ? h('p', { text: v.description }) : null,
    section('Summary', h('dl', { class: 'facts' },
      h('dt', { text: 'Created' }), h('dd', null, time(v.created_at), ` by ${v.created_by}`),
      h('dt', { text: 'Format' }), h('dd', { text: v.format }),
      h('dt', { text: 'Servable' }), h('dd', { text: v.servable ? 'yes' : `no: ${v.unservable_reason || 'unknown reason'}` }),
      h('dt', { text: 'Size' }), h('dd', { text: `${bytes(v.size_bytes)} (${v.size_bytes} bytes)` }),
      h('dt', { text: 'Digest' }), h('dd', null, h('code', { class: 'wrap' }, v.digest)),
      h('dt', { text: 'Tags' }), h('dd', null, v.tags.length ? v.tags.map((t) => [chip(t), ' ']) : muted('—')),
      h('dt', { text: 'Aliases' }), h('dd', null, aliases.length ? aliases.map((a) => [chip(a, 'alias'), ' ']) : muted('—')),
      h('dt', { text: 'Serving' }), h('dd', null, dep?.version === n ? chip('deployed', 'deployed') : dep?.canary?.version === n ? chip(`canary ${dep.canary.percent}%`, 'canary') : muted('no')),
      v.batching ? [h('dt', { text: 'Batching' }), h('dd', { text: `up to ${v.batching.max_batch_size} rows, waits ${v.batching.max_queue_delay_ms} ms` })] : null)),
    section('Signature', v.signature
      ? [tensors('Inputs', v.signature.inputs), tensors('Outputs', v.signature.outputs)]
      : h('p', { class: 'muted', text: 'No signature (only ONNX artifacts declare one).' })),
    section('Metrics', kv(md.metrics, 'No metrics recorded.')),
    section('Parameters', kv(md.parameters, 'No parameters recorded.')),
    section('Lineage', kv(md.lineage, 'No lineage recorded.')),
    section('Metadata', kv({ framework: md.framework, ...(v.format_details || {}) })));
}

// ---- compare --------------------------------------------------------------------------------

async function pageCompare(view, gen, params, name) {
  const wanted = [...new Set((params.get('v') || '').split(',').map((x) => parseInt(x, 10)).filter((x) => x > 0))];
  const input = h('input', { name: 'v', value: wanted.join(','), placeholder: '1,2,3', 'aria-label': 'Versions to compare', inputmode: 'numeric' });
  add(view,
    h('p', { class: 'crumbs' }, link('#/models', 'Models'), ' / ', link(`#/models/${enc(name)}`, name), ' / compare'),
    h('div', { class: 'title' }, h('h1', null, muted(`${name} `), 'compare versions'),
      h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); location.hash = `#/models/${enc(name)}/compare?v=${input.value.replace(/\s+/g, '')}`; } },
        field('Versions', input), h('button', { type: 'submit', text: 'Compare' }))));
  if (wanted.length < 2) { add(view, h('p', { class: 'muted', text: 'Name two or more versions, such as 1,2.' })); return; }
  const vs = await Promise.all(wanted.map((n) => get(`${M(name)}/versions/${n}`)));
  if (!current(gen)) return;
  const keys = (part) => [...new Set(vs.flatMap((v) => Object.keys(v.metadata?.[part] || {})))].sort();
  const rows = [];
  const line = (label, values, cls) => {
    const same = values.every((x) => x === values[0]);
    rows.push(h('tr', { class: (cls || '') + (same ? '' : ' differs') }, h('th', { scope: 'row', text: label }),
      values.map((x) => h('td', { text: x == null ? '—' : num(x) }))));
  };
  const group = (title) => rows.push(h('tr', { class: 'group' }, h('th', { colspan: vs.length + 1, scope: 'colgroup', text: title })));
  group('Metrics');
  for (const k of keys('metrics')) line(k, vs.map((v) => v.metadata?.metrics?.[k]), 'metric');
  group('Parameters');
  for (const k of keys('parameters')) line(k, vs.map((v) => v.metadata?.parameters?.[k]));
  group('Version');
  line('created', vs.map((v) => v.created_at.slice(0, 16).replace('T', ' ')));
  line('created by', vs.map((v) => v.created_by));
  line('format', vs.map((v) => v.format));
  line('size (bytes)', vs.map((v) => v.size_bytes));
  line('servable', vs.map((v) => v.servable ? 'yes' : 'no'));
  line('framework', vs.map((v) => v.metadata?.framework));
  for (const k of ['dataset', 'commit', 'source_run']) line(k, vs.map((v) => v.metadata?.lineage?.[k]));
  line('digest', vs.map((v) => v.digest.slice(7, 19)));
  add(view, h('div', { class: 'scroll fit' }, h('table', { class: 'list compare', id: 'compare-table' },
    h('thead', null, h('tr', null, th(''), vs.map((v) => h('th', { scope: 'col' }, vlink(name, v.version))))),
    h('tbody', null, rows))),
  h('p', { class: 'muted small', text: 'Rows whose values differ are highlighted.' }));
}

// ---- deployment -----------------------------------------------------------------------------

const ACTIONS = {
  'deployment.deploy': 'Deployed', 'deployment.rollback': 'Rolled back', 'deployment.canary': 'Canary set',
  'deployment.promote': 'Canary promoted', 'deployment.abort_canary': 'Canary ended', 'deployment.undeploy': 'Undeployed',
  'alias.set': 'Alias moved', 'alias.delete': 'Alias deleted',
};
const fromTo = (from, to) => `${from == null ? '—' : 'v' + from} → ${to == null ? '—' : 'v' + to}`;

function describeChange(c) {
  switch (c.kind) {
    case 'deploy': return `deploy v${c.version}`;
    case 'undeploy': return 'undeploy';
    case 'canary': return `canary v${c.version} at ${c.percent}%`;
    case 'promote_canary': return 'promote the canary';
    case 'set_alias': return `point alias ${c.alias} at v${c.version}`;
    case 'delete_alias': return `delete alias ${c.alias}`;
    default: return c.kind;
  }
}

/** Pending changes as a table, with approve/reject for those the user may decide. */
function changesTable(changes, withModel, onDone) {
  if (!changes.length) return h('p', { class: 'muted', text: 'No changes.' });
  return tableWrap(h('table', { class: 'list', id: 'changes' },
    h('thead', null, h('tr', null, th('#'), withModel ? th('Model') : null, th('Change'), th('Proposed'), th('Why'), th('State'), th(''))),
    h('tbody', null, changes.map((c) => {
      const mine = c.proposed_by === me.principal;
      const mayDecide = c.state === 'pending' && can('deploy', c.model) && !mine;
      const decide = (verb) => async () => {
        try {
          await api('POST', `/v1/approvals/${c.id}/${verb}`, {});
          notify(`Change #${c.id} ${verb === 'approve' ? 'approved' : 'rejected'}.`);
          onDone();
        } catch (e) { fail(e); }
      };
      return h('tr', { 'data-change': c.id },
        td(String(c.id)), withModel ? td(link(`#/models/${enc(c.model)}/deployment`, c.model)) : null,
        td(describeChange(c)), td(c.proposed_by, ' ', time(c.proposed_at)), td(c.reason || muted('—')),
        td(chip(c.state, c.state), c.state === 'pending' ? h('div', { class: 'muted small' }, 'expires ', time(c.expires_at))
          : c.decided_by ? h('div', { class: 'muted small' }, `by ${c.decided_by}`) : null),
        td(mayDecide ? h('div', { class: 'row' }, button('Approve', decide('approve'), 'small'), button('Reject', decide('reject'), 'small danger'))
          : c.state === 'pending' && mine ? muted('yours: another principal approves') : null));
    }))));
}

/** The version the server rolls back to: the one deployed before the current one (as in the
 *  catalog's rollback_target), found in the newest history entries. */
function rollbackTarget(dep, entries) {
  if (!dep) return null;
  const e = entries.find((x) => (x.action === 'deployment.deploy' || x.action === 'deployment.promote') &&
    x.to === dep.version && x.from != null && x.from !== x.to);
  return e ? e.from : null;
}

async function pageDeployment(view, gen, params, name) {
  const [model, dep, aliasList, protection, history, pending] = await Promise.all([
    get(M(name)), maybe(`${M(name)}/deployment`), get(`${M(name)}/aliases`), get(`${M(name)}/protection`),
    get(`${M(name)}/deployment/history?limit=${PAGE}`), get(`/v1/approvals${qs({ model: name, state: 'pending' })}`)]);
  if (!current(gen)) return;
  const again = () => render();
  const reasonInput = h('input', { name: 'reason', placeholder: 'Why (kept in the audit log)', 'aria-label': 'Reason' });
  const reason = () => reasonInput.value.trim() || null;
  /** Sends a change; a 202 means it waits for approval. */
  async function change(method, path, body, done) {
    try {
      const { status, data } = await api(method, path, body);
      if (status === 202) notify(`Change #${data.id} (${describeChange(data)}) waits for another principal's approval.`);
      else notify(done);
      again();
    } catch (e) { fail(e); }
  }
  const mayDeploy = can('deploy', name);
  const protectedNote = protection.deployment
    ? (protection.require_approval ? 'The deployment is protected: changes wait for a second principal\'s approval (rolling back to an earlier version and ending a canary do not).' : 'The deployment is protected: only deployers change it.')
    : null;

  const main = h('div'), side = h('div');
  add(view,
    h('p', { class: 'crumbs' }, link('#/models', 'Models'), ' / ', link(`#/models/${enc(name)}`, name), ' / deployment'),
    h('div', { class: 'title' }, h('h1', null, muted(`${name} `), 'deployment')),
    h('div', { class: 'columns' }, main, side));

  const now = section('Serving now', dep
    ? h('div', { id: 'serving' },
      h('p', { class: 'big' }, link(`#/models/${enc(name)}/versions/${dep.version}`, ['Version ', h('strong', { id: 'served-version' }, String(dep.version))])),
      dep.canary ? h('p', { id: 'canary' }, 'Canary: ', vlink(name, dep.canary.version), ` takes ${dep.canary.percent}% of the requests`) : null,
      h('p', { class: 'muted small' }, `Changed by ${dep.updated_by} at `, time(dep.updated_at)))
    : h('p', { id: 'serving', class: 'muted', text: 'Not deployed: the version-less routes answer 404.' }),
  protectedNote ? h('p', { class: 'box', text: protectedNote }) : null);
  add(main, now);

  if (mayDeploy) {
    const version = h('input', { type: 'number', name: 'version', min: 1, value: model.latest_version || '', required: true, 'aria-label': 'Version to deploy' });
    const deployForm = h('form', { id: 'deploy-form', class: 'row', onsubmit: (e) => {
      e.preventDefault();
      change('PUT', `${M(name)}/deployment`, { version: +version.value, reason: reason() }, `Deployed version ${version.value}.`);
    } }, field('Version', version), h('button', { type: 'submit', text: 'Deploy' }));
    const target = rollbackTarget(dep, history.entries);
    const rollback = dep && target != null ? button(`Roll back to v${target}`, async () => {
      const ok = await confirmDialog('Roll back?', `Roll back ${name} from version ${dep.version} to version ${target}?`, 'Roll back');
      if (ok) change('POST', `${M(name)}/deployment/rollback`, { version: target, reason: reason() }, `Rolled back from version ${dep.version} to version ${target}.`);
    }, 'danger', { id: 'rollback' }) : null;
    const cVersion = h('input', { type: 'number', name: 'canary_version', min: 1, required: true, value: dep?.canary?.version || '', 'aria-label': 'Canary version' });
    const cPercent = h('input', { type: 'number', name: 'percent', min: 1, max: 99, required: true, value: dep?.canary?.percent || 10, 'aria-label': 'Canary share in percent' });
    const canaryForm = dep ? h('form', { id: 'canary-form', class: 'row', onsubmit: (e) => {
      e.preventDefault();
      change('PUT', `${M(name)}/deployment/canary`, { version: +cVersion.value, percent: +cPercent.value, reason: reason() }, `Canary set: version ${cVersion.value} at ${cPercent.value}%.`);
    } }, field('Canary version', cVersion), field('Share %', cPercent), h('button', { type: 'submit', class: 'secondary', text: dep.canary ? 'Change canary' : 'Start canary' })) : null;
    const canaryButtons = dep?.canary ? h('div', { class: 'row' },
      button(`Promote canary v${dep.canary.version}`, () => change('POST', `${M(name)}/deployment/canary/promote`, { reason: reason() }, 'Canary promoted.'), 'secondary'),
      button('End canary', () => change('DELETE', `${M(name)}/deployment/canary`, { reason: reason() }, 'Canary ended.'), 'secondary')) : null;
    const undeploy = dep ? button('Undeploy', async () => {
      if (await confirmDialog('Undeploy?', `Stop serving ${name} (version ${dep.version}) on its version-less routes?`, 'Undeploy')) {
        change('DELETE', `${M(name)}/deployment`, { reason: reason() }, 'Undeployed.');
      }
    }, 'secondary') : null;
    add(main, section('Change what is served', h('div', { class: 'stack' }, h('label', { class: 'field wide' }, h('span', { text: 'Reason (optional)' }), reasonInput),
      h('h3', { text: 'Deploy' }), deployForm, rollback || undeploy ? h('div', { class: 'row' }, rollback, undeploy) : null,
      dep ? h('h3', { text: 'Canary' }) : null, canaryForm, canaryButtons)));
  }

  // Aliases: pushers move unprotected ones, deployers any.
  const aliasRows = aliasList.aliases.map((a) => h('tr', { 'data-alias': a.alias },
    td(chip(a.alias, 'alias'), protection.aliases?.includes(a.alias) ? muted(' protected') : null), td(vlink(name, a.version)),
    td(a.updated_by, ' ', time(a.updated_at)),
    td(canMoveAlias(name, a.alias, protection) ? button('Delete', async () => {
      if (await confirmDialog('Delete alias?', `Delete alias ${a.alias} (pointing at version ${a.version})?`, 'Delete')) {
        change('DELETE', `${M(name)}/aliases/${enc(a.alias)}`, undefined, `Alias ${a.alias} deleted.`);
      }
    }, 'small secondary') : null)));
  const mayAlias = can('deploy', name) || can('push', name);
  const aName = h('input', { name: 'alias', required: true, pattern: '[a-z][a-z0-9_-]*', placeholder: 'champion', 'aria-label': 'Alias', list: 'alias-names' });
  const aVersion = h('input', { type: 'number', name: 'alias_version', min: 1, required: true, value: model.latest_version || '', 'aria-label': 'Alias version' });
  add(main, section('Aliases',
    aliasRows.length ? tableWrap(h('table', { class: 'list', id: 'aliases' }, h('thead', null, h('tr', null, th('Alias'), th('Version'), th('Changed'), th(''))), h('tbody', null, aliasRows)))
      : h('p', { class: 'muted', text: 'No aliases.' }),
    mayAlias ? h('form', { id: 'alias-form', class: 'row', onsubmit: (e) => {
      e.preventDefault();
      if (!canMoveAlias(name, aName.value, protection)) { notify(`Alias ${aName.value} is protected: only a deployer may move it.`, 'error'); return; }
      change('PUT', `${M(name)}/aliases/${enc(aName.value)}`, { version: +aVersion.value, reason: reason() }, `Alias ${aName.value} now points at version ${aVersion.value}.`);
    } }, field('Alias', aName), h('datalist', { id: 'alias-names' }, aliasList.aliases.map((a) => h('option', { value: a.alias }))),
    field('Version', aVersion), h('button', { type: 'submit', class: 'secondary', text: 'Move alias' })) : null));

  add(main, section('Pending approvals', h('div', { id: 'pending' }, changesTable(pending.changes, false, again))));

  const timeline = h('ol', { class: 'timeline', id: 'history' });
  const hist = section('History', timeline);
  add(side, hist);
  const entry = (e) => h('li', { 'data-action': e.action },
    h('div', { class: 'when' }, time(e.at)),
    h('div', null, h('strong', { text: ACTIONS[e.action] || e.action }), e.alias ? [' ', chip(e.alias, 'alias')] : null, ' ',
      h('span', { class: 'fromto', text: fromTo(e.from, e.to) }),
      e.details?.percent ? muted(` (${e.details.percent}%)`) : null),
    h('div', { class: 'muted small' }, `by ${e.actor}`, e.reason ? h('span', { class: 'why' }, ` — ${e.reason}`) : null));
  let first = history;
  const list = pager(hist, gen, async (cursor) => {
    const d = first || await get(`${M(name)}/deployment/history${qs({ limit: PAGE, cursor })}`);
    first = null;
    return { items: d.entries, next: d.next_cursor };
  }, (entries, isFirst) => {
    if (isFirst && !entries.length) timeline.append(h('li', { class: 'muted', text: 'No changes yet.' }));
    timeline.append(...entries.map(entry));
  });
  await list.reload();
}

// ---- approvals ------------------------------------------------------------------------------

async function pageApprovals(view, gen, params) {
  const state = h('select', { name: 'state', 'aria-label': 'State', value: params.get('state') || 'pending' },
    ['pending', 'approved', 'rejected', 'expired'].map((s) => h('option', { value: s, text: s })));
  const box = h('div');
  add(view, h('div', { class: 'title' }, h('h1', { text: 'Approvals' }), field('State', state)),
    h('p', { class: 'muted', text: 'Changes to protected aliases and deployments wait here for a second principal. You cannot approve your own.' }), box);
  const collected = [];
  const list = pager(view, gen, async (cursor) => {
    const d = await get(`/v1/approvals${qs({ state: state.value, limit: PAGE, cursor })}`);
    return { items: d.changes, next: d.next_cursor };
  }, (items, first) => {
    if (first) collected.length = 0;
    collected.push(...items);
    clear(box, changesTable(collected, true, () => list.reload()));
  });
  state.addEventListener('change', () => { setQuery({ state: state.value }); list.reload(); });
  await list.reload();
}

// ---- audit log ------------------------------------------------------------------------------

async function pageAudit(view, gen, params) {
  const model = h('input', { type: 'search', name: 'model', placeholder: 'Model (exact name)', value: params.get('model') || '', 'aria-label': 'Model', pattern: '[a-z0-9][a-z0-9._-]*' });
  const action = h('input', { type: 'search', name: 'action', placeholder: 'Action contains…', value: params.get('action') || '', 'aria-label': 'Action' });
  const actor = h('input', { type: 'search', name: 'actor', placeholder: 'Actor', value: params.get('actor') || '', 'aria-label': 'Actor' });
  const tbody = h('tbody');
  const rows = [];
  add(view, h('div', { class: 'title' }, h('h1', { text: 'Audit log' })),
    h('form', { class: 'filters', role: 'search', onsubmit: (e) => { e.preventDefault(); reload(); } }, model, action, actor,
      h('button', { type: 'submit', class: 'secondary', text: 'Filter' })),
    h('p', { class: 'muted small', text: 'The model filter asks the server; action and actor filter the entries loaded so far.' }),
    tableWrap(h('table', { class: 'list', id: 'audit' }, h('thead', null, h('tr', null, th('When'), th('Actor'), th('Action'), th('Model'), th('Version'), th('Why'), th('Details'))), tbody)));
  const visible = (e) => (!action.value || e.action.includes(action.value.trim())) && (!actor.value || e.actor === actor.value.trim());
  const row = (e) => h('tr', { hidden: !visible(e) },
    td(time(e.at)), td(e.actor, e.token ? muted(` (${e.token})`) : null), td(h('code', null, e.action)),
    td(e.model ? link(`#/models/${enc(e.model)}`, e.model) : muted('—')), td(e.version != null && e.model ? vlink(e.model, e.version) : muted('—')),
    td(e.reason || muted('—')), td(h('code', { class: 'details', title: JSON.stringify(e.details) }, JSON.stringify(e.details))));
  const list = pager(view, gen, async (cursor) => {
    const d = await get(`/v1/audit${qs({ model: model.value.trim(), limit: PAGE, cursor })}`);
    return { items: d.entries, next: d.next_cursor };
  }, (items, first) => {
    if (first) { rows.length = 0; tbody.replaceChildren(); }
    for (const e of items) { const r = row(e); rows.push([e, r]); tbody.append(r); }
  });
  const reload = () => { setQuery({ model: model.value.trim(), action: action.value.trim(), actor: actor.value.trim() }); return list.reload(); };
  const refilter = () => { for (const [e, r] of rows) r.hidden = !visible(e); setQuery({ model: model.value.trim(), action: action.value.trim(), actor: actor.value.trim() }); };
  action.addEventListener('input', refilter);
  actor.addEventListener('input', refilter);
  await list.reload();
}

// ---- tokens ---------------------------------------------------------------------------------

async function pageTokens(view, gen, params) {
  add(view, h('div', { class: 'title' }, h('h1', { text: 'API tokens' })));
  if (!can('admin')) { add(view, h('p', { class: 'box', text: 'Only administrators manage tokens.' })); return; }

  const created = h('div', { id: 'created-token' });
  const grantsBox = h('div', { class: 'stack' });
  const grantRow = (role = 'reader', models = '*') => {
    const r = h('div', { class: 'row grant' },
      field('Role', h('select', { name: 'role', value: role }, Object.keys(PERMS).map((x) => h('option', { value: x, text: x })))),
      field('Models', h('input', { name: 'models', value: models, required: true, placeholder: '*, prefix*, or a name' })),
      button('Remove', () => r.remove(), 'small secondary'));
    grantsBox.append(r);
  };
  grantRow();
  const tName = h('input', { name: 'name', required: true, maxlength: 64, placeholder: 'ci-deploy' });
  const tPrincipal = h('input', { name: 'principal', required: true, maxlength: 64, placeholder: 'ci-pipeline', pattern: '[A-Za-z0-9][A-Za-z0-9._@\\-]*' });
  const tExpires = h('input', { type: 'datetime-local', name: 'expires_at' });
  const form = h('form', { id: 'token-form', class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    const grants = [...grantsBox.querySelectorAll('.grant')].map((g) => ({ role: g.querySelector('select').value, models: g.querySelector('input').value.trim() }));
    const body = { name: tName.value.trim(), principal: tPrincipal.value.trim(), grants };
    if (tExpires.value) body.expires_at = new Date(tExpires.value).toISOString();
    try {
      const t = (await api('POST', '/v1/tokens', body)).data;
      const text = h('input', { readonly: true, value: t.token, id: 'token-text', 'aria-label': 'New token', class: 'mono' });
      const copy = button('Copy', async () => {
        try { await navigator.clipboard.writeText(t.token); copy.textContent = 'Copied'; } catch { text.select(); document.execCommand('copy'); copy.textContent = 'Copied'; }
      }, null, { id: 'copy-token' });
      clear(created, h('div', { class: 'box ok' },
        h('p', null, h('strong', { text: `Token ${t.name} for ${t.principal}. ` }), 'Copy it now: it is shown only once.'),
        h('div', { class: 'row' }, text, copy)));
      form.reset();
      grantsBox.replaceChildren();
      grantRow();
      list.reload();
    } catch (err) { fail(err); }
  } },
  h('div', { class: 'row' }, field('Name', tName), field('Principal', tPrincipal), field('Expires (optional)', tExpires)),
  h('h3', { text: 'Grants' }), grantsBox,
  h('div', { class: 'row' }, button('Add grant', () => grantRow(), 'secondary small'), h('button', { type: 'submit', text: 'Create token' })));
  add(view, section('Create a token', form, created));

  const principal = h('input', { type: 'search', name: 'principal', placeholder: 'Principal', value: params.get('principal') || '', 'aria-label': 'Only this principal' });
  const revoked = h('input', { type: 'checkbox', name: 'include_revoked', checked: params.get('revoked') === '1' });
  const tbody = h('tbody');
  const tokens = section('Tokens',
    h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); reload(); } }, principal,
      h('label', { class: 'check' }, revoked, ' include revoked'), h('button', { type: 'submit', class: 'secondary', text: 'Filter' })),
    tableWrap(h('table', { class: 'list', id: 'tokens' }, h('thead', null, h('tr', null, th('Id'), th('Name'), th('Principal'), th('Grants'), th('Created'), th('Last used'), th('Expires'), th(''))), tbody)));
  add(view, tokens);
  const row = (t) => h('tr', { 'data-token': t.id, class: t.revoked_at ? 'revoked' : null },
    td(h('code', null, t.id)), td(t.name), td(t.principal), td(t.grants.map((g) => [chip(`${g.role} on ${g.models}`), ' '])),
    td(time(t.created_at), muted(` by ${t.created_by}`)), td(time(t.last_used_at)), td(time(t.expires_at)),
    td(t.revoked_at ? h('span', null, 'revoked ', time(t.revoked_at)) : t.id === me.token ? muted('this session') : button('Revoke', async () => {
      if (!await confirmDialog('Revoke token?', `Revoke token ${t.name} (${t.id}) of ${t.principal}? Anything using it stops working at once.`, 'Revoke')) return;
      try { await api('DELETE', `/v1/tokens/${enc(t.id)}`); notify(`Token ${t.id} revoked.`); list.reload(); } catch (e) { fail(e); }
    }, 'small danger')));
  const list = pager(tokens, gen, async (cursor) => {
    const d = await get(`/v1/tokens${qs({ principal: principal.value.trim(), include_revoked: revoked.checked ? 'true' : '', limit: PAGE, cursor })}`);
    return { items: d.tokens, next: d.next_cursor };
  }, (items, first) => {
    if (first) tbody.replaceChildren();
    tbody.append(...items.map(row));
  });
  const reload = () => { setQuery({ principal: principal.value.trim(), revoked: revoked.checked ? '1' : '' }); return list.reload(); };
  revoked.addEventListener('change', reload);
  await list.reload();
}

// ---- start ----------------------------------------------------------------------------------

window.addEventListener('hashchange', () => { $('msg').replaceChildren(); render(); });
render();
