// fs.js — the Namespace pane: spaces (GET /fs) and their schemas, the
// objects of a space (search with GET /fs/{space}?..., paged by cursor),
// one object's attrs, labels, versions and branches, putting and deleting
// objects, and live updates of the list from GET /fs/{space}?watch when
// the node has that stream.

import { api, describe, seg, showError } from './api.js';
import { $, brief, confirmButton, ctrlEnterSubmits, fill, fmtBytes, fmtTime, h, toast } from './dom.js';
import { follow, statusBadge } from './live.js';
import { jsonTree } from './tree.js';

const PAGE = 50;
const OPS = { '=': '', '>': '.gt', '>=': '.gte', '<': '.lt', '<=': '.lte', '^=': '.prefix' };
const RAW = /\.(eq|gt|gte|lt|lte|prefix)$/;
const SHAPING = ['limit', 'fields', 'count'];
const SAMPLE = { Int: 0, Float: 0.0, String: '', Bool: false, Bytes: '', List: [], Map: {}, Any: null };

let els = null;
let spacesNext = null;
let cur = null; // {name, schema}
let items = new Map(); // key -> object, in display order
let next = null; // cursor of the next page
let params = []; // the current search, as [name, value] pairs
let selected = null; // {key, version, branch}
let watch = null;
let attrsTemplate = '{}';
let openSeq = 0; // the latest openSpace call; older answers are dropped

export function init() {
  els = {
    spaceList: $('#fs-space-list'),
    spacesMore: $('#fs-spaces-more'),
    spaceForm: $('#fs-space-form'),
    empty: $('#fs-empty'),
    space: $('#fs-space'),
    name: $('#fs-space-name'),
    schema: $('#fs-schema'),
    del: $('#fs-space-delete'),
    search: $('#fs-search'),
    query: $('#fs-query'),
    queryUrl: $('#fs-query-url'),
    rows: $('#fs-objects tbody'),
    count: $('#fs-count'),
    more: $('#fs-more'),
    detail: $('#fs-detail'),
    objForm: $('#fs-object-form'),
    live: $('#fs-live'),
  };
  els.spacesMore.addEventListener('click', () => loadSpaces(true));
  els.spaceForm.addEventListener('submit', (e) => { e.preventDefault(); createSpace(); });
  els.search.addEventListener('submit', (e) => { e.preventDefault(); search(false); });
  els.query.addEventListener('input', previewQuery);
  $('#fs-search-clear').addEventListener('click', () => { els.query.value = ''; search(false); });
  els.more.addEventListener('click', () => search(true));
  els.objForm.addEventListener('submit', (e) => { e.preventDefault(); putObject(); });
  ctrlEnterSubmits(els.objForm);
  ctrlEnterSubmits(els.spaceForm);
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || els.space.hidden || $('#pane-fs').hidden) return;
    const t = e.target.tagName;
    if (t === 'INPUT' || t === 'TEXTAREA' || t === 'SELECT') return;
    e.preventDefault();
    els.query.focus();
  });
  statusBadge(els.live)('off', 'choose a space');
}

export function show(arg) {
  loadSpaces(false);
  if (arg && (!cur || cur.name !== arg)) openSpace(arg);
  else if (cur) startWatch();
}

export function hide() {
  stopWatch();
}

// ---------------------------------------------------------------- spaces

async function loadSpaces(more) {
  const err = els.spaceForm.querySelector('.error');
  try {
    const q = more && spacesNext ? `&cursor=${encodeURIComponent(spacesNext)}` : '';
    const { body } = await api('GET', `/fs?limit=200${q}`);
    if (!more) fill(els.spaceList);
    for (const s of body.items) {
      els.spaceList.append(h('li', {},
        h('a', { href: `#/fs/${seg(s.name)}`, class: 'space-item', dataset: { space: s.name },
          'aria-current': cur && cur.name === s.name ? 'true' : null },
        h('span', { text: s.name }), h('span', { class: 'muted', text: `${s.objects}` }))));
    }
    if (!more && body.items.length === 0) els.spaceList.append(h('li', { class: 'muted', text: 'no spaces yet' }));
    spacesNext = body.next;
    els.spacesMore.hidden = !spacesNext;
  } catch (e) {
    showError(err, e);
  }
}

async function createSpace() {
  const f = els.spaceForm;
  const err = f.querySelector('.error');
  showError(err, null);
  const name = f.elements.name.value.trim();
  let spec;
  try {
    spec = JSON.parse(f.elements.spec.value);
  } catch (e) {
    showError(err, new Error(`the schema is not JSON: ${e.message}`));
    return;
  }
  try {
    const r = await api('PUT', `/fs/${seg(name)}`, { json: spec });
    toast(r.status === 201 ? `space ${name} created` : `space ${name} exists with this schema`);
    f.elements.name.value = '';
    $('#fs-new-space').open = false;
    await loadSpaces(false);
    location.hash = `#/fs/${seg(name)}`;
  } catch (e) {
    showError(err, e);
  }
}

async function openSpace(name) {
  const my = ++openSeq;
  stopWatch();
  cur = null;
  items = new Map();
  selected = null;
  fill(els.rows);
  fill(els.detail, 'Select an object.');
  els.detail.className = 'muted';
  for (const a of els.spaceList.querySelectorAll('a')) {
    a.setAttribute('aria-current', String(a.dataset.space === name));
  }
  let schema;
  try {
    schema = (await api('GET', `/fs/${seg(name)}?schema`)).body;
  } catch (e) {
    if (my !== openSeq) return;
    els.space.hidden = true;
    els.empty.hidden = false;
    fill(els.empty, h('div', { class: 'error', text: describe(e) }));
    return;
  }
  if (my !== openSeq) return;
  cur = { name, schema };
  els.empty.hidden = true;
  els.space.hidden = false;
  renderSchema();
  const tmpl = {};
  for (const [a, t] of Object.entries(schema.attrs || {})) tmpl[a] = SAMPLE[t] ?? null;
  const tmplText = JSON.stringify(tmpl);
  if (els.objForm.elements.attrs.value.trim() === attrsTemplate) els.objForm.elements.attrs.value = tmplText;
  attrsTemplate = tmplText;
  previewQuery();
  await search(false);
  startWatch();
}

function renderSchema() {
  const s = cur.schema;
  els.name.textContent = cur.name;
  fill(els.del, confirmButton('Delete space', async () => {
    try {
      await api('DELETE', `/fs/${seg(cur.name)}`);
      toast(`space ${cur.name} deleted`);
      stopWatch();
      cur = null;
      els.space.hidden = true;
      els.empty.hidden = false;
      fill(els.empty, 'Choose a space, or make one.');
      location.hash = '#/fs';
      loadSpaces(false);
    } catch (e) {
      toast(describe(e), true);
    }
  }));
  const attrs = Object.entries(s.attrs || {});
  fill(els.schema,
    h('div', {}, h('span', { class: 'label', text: 'key ' }), h('code', { text: s.key })),
    h('div', {}, h('span', { class: 'label', text: 'attrs ' }),
      attrs.length ? attrs.map(([a, t]) => h('span', { class: 'chip' }, h('code', { text: a }), ': ', t)) : h('span', { class: 'muted', text: 'none' })),
    h('div', {}, h('span', { class: 'label', text: 'opts ' }),
      `partitions ${s.opts.partitions} · failures ${s.opts.failures} · versioning ${s.opts.versioning ? 'on' : 'off'}`),
    h('div', { class: 'muted' }, `${s.objects} object${s.objects === 1 ? '' : 's'} · created ${s.created}`));
}

// ---------------------------------------------------------------- search

/**
 * Turns the search box's text into query parameters of GET /fs/{space}:
 * "freq>=3&lang=en" -> [["freq.gte","3"],["label.lang","en"]]. A name that
 * is not an attribute of the space is a label; parameters already in the
 * API's form (freq.gte=3, label.x=1, limit=10) pass as they are.
 */
export function parseQuery(text, attrs) {
  const out = [];
  for (const raw of text.split('&')) {
    const term = raw.trim();
    if (!term) continue;
    const m = /^(.+?)\s*(>=|<=|!=|\^=|>|<|=)\s*(.*)$/.exec(term);
    if (!m) throw new Error(`"${term}" has no operator (=, >, >=, <, <=, ^= for a prefix)`);
    const [, name, op, value] = m;
    if (op === '!=') throw new Error('the search has no "not equal" condition');
    if (name === 'schema' || name === 'cursor' || name === 'fmt') throw new Error(`${name} is not a search condition`);
    if (SHAPING.includes(name) || RAW.test(name)) {
      if (op !== '=') throw new Error(`write ${name}=value`);
      out.push([name, value]);
      continue;
    }
    const base = name.startsWith('label.') || attrs.has(name) ? name : `label.${name}`;
    out.push([base + OPS[op], value]);
  }
  return out;
}

const qs = (pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

function searchUrl(pairs, cursor) {
  const all = [...pairs];
  if (!pairs.some(([k]) => k === 'limit')) all.push(['limit', String(PAGE)]);
  if (cursor) all.push(['cursor', cursor]);
  return `/fs/${seg(cur.name)}?${qs(all)}`;
}

function previewQuery() {
  if (!cur) return;
  const err = els.search.querySelector('.error');
  try {
    const p = parseQuery(els.query.value, new Set(Object.keys(cur.schema.attrs || {})));
    els.queryUrl.textContent = `GET ${searchUrl(p, null)}`;
    showError(err, null);
  } catch (e) {
    els.queryUrl.textContent = '–';
  }
}

async function search(more) {
  if (!cur) return;
  const err = els.search.querySelector('.error');
  showError(err, null);
  let pairs;
  try {
    pairs = more ? params : parseQuery(els.query.value, new Set(Object.keys(cur.schema.attrs || {})));
  } catch (e) {
    showError(err, e);
    return;
  }
  const name = cur.name;
  const url = searchUrl(pairs, more ? next : null);
  els.queryUrl.textContent = `GET ${url}`;
  let r;
  try {
    r = await api('GET', url);
  } catch (e) {
    showError(err, e);
    return;
  }
  if (!cur || cur.name !== name) return;
  params = pairs;
  if (!more) {
    items = new Map();
    fill(els.rows);
  }
  const b = r.body;
  if (typeof b.count === 'number') {
    els.count.textContent = `count: ${b.count}`;
    next = null;
    els.more.hidden = true;
    return;
  }
  for (const o of b.items) upsert(o, false);
  next = b.next;
  els.more.hidden = !next;
  const read = r.headers.get('M31-Keys-Read');
  els.count.textContent = `${items.size} shown${next ? ' (more follow)' : ''}${read ? ` · ${read} keys read` : ''}`;
  if (items.size === 0) els.rows.append(h('tr', { class: 'empty' }, h('td', { colspan: '5', class: 'muted', text: pairs.length ? 'nothing matches' : 'no objects yet' })));
}

/** Adds or updates a row (first when `top`). */
function upsert(o, top, flash = false) {
  const old = els.rows.querySelector(`tr[data-key="${CSS.escape(o.key)}"]`);
  const empty = els.rows.querySelector('tr.empty');
  if (empty) empty.remove();
  items.set(o.key, o);
  const tr = h('tr', { tabindex: '0', dataset: { key: o.key }, class: selected && selected.key === o.key ? 'selected' : null },
    h('td', {}, h('code', { text: o.key })),
    h('td', { text: String(o.version) }),
    h('td', { title: o.modified, text: fmtTime(o.modified) }),
    h('td', { class: 'mono', text: brief(o.attrs, 60) }),
    h('td', { class: 'mono', text: brief(o.labels, 40) }));
  tr.addEventListener('click', () => select({ key: o.key }));
  tr.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') select({ key: o.key });
    if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
    if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
  });
  if (flash) tr.classList.add('flash');
  if (old) old.replaceWith(tr);
  else if (top) els.rows.prepend(tr);
  else els.rows.append(tr);
}

function removeRow(key) {
  items.delete(key);
  const tr = els.rows.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
  if (tr) tr.remove();
}

// ---------------------------------------------------------------- objects

function objUrl(key, { version, branch } = {}) {
  let u = `/fs/${seg(cur.name)}/${seg(key)}`;
  if (version) u += `?version=${version}`;
  else if (branch && branch !== 'main') u += `?branch=${encodeURIComponent(branch)}`;
  return u;
}

async function select(sel) {
  if (!cur) return;
  selected = sel;
  for (const tr of els.rows.querySelectorAll('tr')) tr.classList.toggle('selected', tr.dataset.key === sel.key);
  els.detail.className = '';
  let o;
  try {
    o = (await api('GET', objUrl(sel.key, sel))).body;
  } catch (e) {
    fill(els.detail, h('h3', {}, h('code', { text: sel.key })), h('div', { class: 'error', text: describe(e) }));
    return;
  }
  if (selected !== sel) return;
  renderDetail(o, sel);
}

function renderDetail(o, sel) {
  const name = cur.name;
  const versioned = cur.schema.opts.versioning;
  const viewing = sel.version ? `version ${sel.version}` : (o.branch !== 'main' ? `branch ${o.branch}` : 'head of main');
  const versions = h('div', { class: 'sub' });
  const branches = h('div', { class: 'sub' });
  fill(els.detail,
    h('div', { class: 'detail-head' },
      h('h3', {}, h('code', { text: o.key })),
      h('span', { class: 'badge', text: viewing }),
      h('span', { class: 'grow' }),
      h('button', { type: 'button', text: 'Edit', title: 'copy into the put form', onclick: () => edit(o) }),
      confirmButton(o.branch !== 'main' ? 'Delete branch' : 'Delete', async () => {
        try {
          await api('DELETE', objUrl(o.key, { branch: o.branch }));
          toast(`deleted ${o.key}${o.branch !== 'main' ? ` (branch ${o.branch})` : ''}`);
          if (o.branch === 'main') {
            selected = null;
            removeRow(o.key);
            cur.schema.objects = Math.max(0, cur.schema.objects - 1);
            renderSchema();
            loadSpaces(false);
            fill(els.detail, 'Select an object.');
            els.detail.className = 'muted';
          } else {
            select({ key: o.key });
          }
        } catch (e) {
          toast(describe(e), true);
        }
      })),
    h('dl', { class: 'kv' },
      h('dt', { text: 'version' }), h('dd', { text: String(o.version) }),
      h('dt', { text: 'branch' }), h('dd', { text: o.branch }),
      h('dt', { text: 'modified' }), h('dd', { text: o.modified })),
    h('h4', { text: 'attrs' }), jsonTree(o.attrs, { open: 2 }),
    h('h4', { text: 'labels' }), jsonTree(o.labels, { open: 2 }),
    h('h4', { text: 'versions' }), versions,
    h('h4', { text: 'branches' }), branches);
  if (!versioned) {
    versions.append(h('span', { class: 'muted', text: 'versioning is off in this space: only the head is kept' }));
    branches.append(h('span', { class: 'muted', text: 'branches need versioning' }));
    return;
  }
  loadVersions(name, o, sel, versions);
  loadBranches(name, o, sel, branches);
}

async function loadVersions(name, o, sel, el) {
  try {
    const { body } = await api('GET', `/fs/${seg(name)}/${seg(o.key)}/versions`);
    fill(el, h('div', { class: 'pills' }, body.items.map((v) => h('button', {
      type: 'button',
      class: sel.version === v.version || (!sel.version && !sel.branch && v.version === o.version && o.branch === 'main') ? 'pill on' : 'pill',
      title: `${v.modified} · ${fmtBytes(v.size)}`,
      text: `v${v.version}`,
      onclick: () => select({ key: o.key, version: v.version }),
    }))));
  } catch (e) {
    fill(el, h('span', { class: 'error', text: describe(e) }));
  }
}

async function loadBranches(name, o, sel, el) {
  try {
    const { body } = await api('GET', `/fs/${seg(name)}/${seg(o.key)}/branches`);
    const form = h('form', { class: 'inline-form' },
      h('input', { name: 'name', placeholder: 'new branch', 'aria-label': 'new branch name', required: true, spellcheck: 'false' }),
      h('input', { name: 'from', type: 'number', min: '1', value: String(sel.version || o.version), 'aria-label': 'from version', title: 'from version of main' }),
      h('button', { text: 'Branch' }));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await api('POST', `/fs/${seg(name)}/${seg(o.key)}/branches`, { json: { name: form.elements.name.value, from: Number(form.elements.from.value) } });
        select({ key: o.key, branch: form.elements.name.value });
      } catch (err) {
        toast(describe(err), true);
      }
    });
    fill(el, h('div', { class: 'pills' }, body.items.map((b) => h('button', {
      type: 'button',
      class: (sel.branch || 'main') === b.name && !sel.version ? 'pill on' : 'pill',
      title: `v${b.version}${b.from ? ` from v${b.from} of main` : ''} · ${b.modified}`,
      text: b.name,
      onclick: () => select({ key: o.key, branch: b.name }),
    }))), form);
  } catch (e) {
    fill(el, h('span', { class: 'error', text: describe(e) }));
  }
}

function edit(o) {
  const f = els.objForm;
  f.elements.key.value = o.key;
  f.elements.attrs.value = JSON.stringify(o.attrs, null, 1);
  f.elements.labels.value = JSON.stringify(o.labels, null, 1);
  $('#fs-new-object').open = true;
  f.elements.attrs.focus();
}

async function putObject() {
  const f = els.objForm;
  const err = f.querySelector('.error');
  const ok = f.querySelector('.ok');
  showError(err, null);
  ok.hidden = true;
  ok.textContent = '';
  if (!cur) return;
  let attrs;
  let labels;
  try {
    attrs = JSON.parse(f.elements.attrs.value || '{}');
    labels = JSON.parse(f.elements.labels.value || '{}');
  } catch (e) {
    showError(err, new Error(`not JSON: ${e.message}`));
    return;
  }
  const key = f.elements.key.value;
  try {
    const r = await api('PUT', `/fs/${seg(cur.name)}/${seg(key)}`, { json: { attrs, labels } });
    ok.hidden = false;
    ok.textContent = `${r.status === 201 ? 'created' : 'replaced'} ${key}`;
    cur.schema.objects += r.status === 201 ? 1 : 0;
    renderSchema();
    loadSpaces(false); // their object counts
    await search(false);
    select({ key });
  } catch (e) {
    showError(err, e);
  }
}

// ----------------------------------------------------------------- watch

function startWatch() {
  stopWatch();
  if (!cur) return;
  const name = cur.name;
  watch = follow({
    stream: { url: `/fs/${seg(name)}?watch`, events: ['put', 'patch', 'delete', 'branch', 'deleted'] },
    onEvent: (ev, d) => onChange(name, ev, d),
    onReset: () => { if (cur && cur.name === name) search(false); },
    poll: null,
    onStatus: statusBadge(els.live),
  });
}

function stopWatch() {
  if (watch) watch.stop();
  watch = null;
}

/* One change of the space: {seq, space, key, op, version, branch, object}. */
async function onChange(name, ev, d) {
  if (!cur || cur.name !== name || !d || typeof d !== 'object') return;
  const op = d.op || ev;
  if (op === 'deleted') { // the space itself
    toast(`space ${name} was deleted`, true);
    stopWatch();
    location.hash = '#/fs';
    loadSpaces(false);
    return;
  }
  if (!d.key || (d.branch && d.branch !== 'main')) {
    if (selected && selected.key === d.key && selected.branch === d.branch) select(selected);
    return;
  }
  if (op === 'delete') {
    removeRow(d.key);
    if (selected && selected.key === d.key && !selected.version && !selected.branch) {
      selected = null;
      fill(els.detail, h('code', { text: d.key }), ' was deleted.');
      els.detail.className = 'muted';
    }
    return;
  }
  if (op === 'put' || op === 'patch') {
    let o = d.object;
    if (!o) { // a large object is left out of the event: read it
      try { o = (await api('GET', `/fs/${seg(name)}/${seg(d.key)}`)).body; } catch { return; }
    }
    // A new key shows up unless a search is narrowing the list.
    if (items.has(d.key) || params.length === 0) upsert(o, !items.has(d.key), true);
  }
  if (selected && selected.key === d.key && !selected.version && !selected.branch) select(selected);
}
