// fibrils.js — the Fibrils pane: every fibril of the node as a tree
// (parents -> children) with state, CPU, memory and outcome, a Kill button
// (DELETE /fibrils/{id}), a form to spawn one (POST /fibrils), and live
// updates: the GET /fibrils?watch event stream when the node has it, else
// GET /fibrils every second.

import { api, describe, seg, showError } from './api.js';
import { $, brief, ctrlEnterSubmits, fill, fmtBytes, fmtTime, h, toast } from './dom.js';
import { follow, statusBadge } from './live.js';
import { jsonTree } from './tree.js';

const FINAL = new Set(['done', 'failed', 'killed']);
const RANK = { ready: 0, running: 1, waiting: 1, done: 2, failed: 2, killed: 2 };
const MAX_PAGES = 5; // of 1000: the tree shows the node's first 5000 fibrils

let els = null;
const recs = new Map(); // id -> record, in creation order
const rows = new Map(); // id -> {li, state, metrics, outcome, kill, ul}
let follower = null;
let selectedId = null;
let shownDetail = '';
let frame = 0;

export function init() {
  els = {
    form: $('#fib-form'),
    tree: $('#fib-tree'),
    count: $('#fib-count'),
    filter: $('#fib-filter'),
    live: $('#fib-live'),
    detail: $('#fib-detail'),
    error: $('#fib-error'),
  };
  els.form.addEventListener('submit', (e) => { e.preventDefault(); spawn(); });
  ctrlEnterSubmits(els.form);
  els.filter.addEventListener('change', () => place(true));
}

export function show() {
  if (follower) return;
  const badge = statusBadge(els.live);
  follower = follow({
    stream: { url: '/fibrils?watch', events: ['fibril'] },
    onEvent: (_, rec) => { if (rec && rec.id) { merge(rec); schedule(); } },
    onReset: () => { loadAll().catch(() => {}); },
    poll: loadAll,
    interval: 1000,
    onStatus: (state, why) => {
      badge(state, why);
      if (state === 'live') loadAll().catch(() => {}); // what happened before the stream
    },
  });
}

export function hide() {
  if (follower) follower.stop();
  follower = null;
}

/** Reads every fibril (GET /fibrils, paged) into the tree. */
async function loadAll() {
  let cursor = null;
  try {
    for (let page = 0; page < MAX_PAGES; page++) {
      const { body } = await api('GET', `/fibrils?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const rec of body.items) merge(rec);
      cursor = body.next;
      if (!cursor) break;
    }
    showError(els.error, null);
  } catch (e) {
    showError(els.error, e);
    throw e;
  }
  schedule();
}

/*
 * Keeps the newest record of a fibril. Answers cross on the way (a stream
 * event for "done" can come before the POST's own "ready" answer, a poll
 * started before an event can end after it), and a state never goes back:
 * ready -> running/waiting -> done/failed/killed.
 */
function merge(rec) {
  const old = recs.get(rec.id);
  if (old && (RANK[old.state] ?? 0) > (RANK[rec.state] ?? 0)) return;
  recs.set(rec.id, rec);
}

function schedule() {
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; place(false); });
}

// ------------------------------------------------------------------ tree

function rowFor(id) {
  let r = rows.get(id);
  if (r) return r;
  const state = h('span', { class: 'state' });
  const idButton = h('button', { type: 'button', class: 'link mono', text: id, title: 'show the record', onclick: () => select(id) });
  const metrics = h('span', { class: 'metrics muted' });
  const outcome = h('span', { class: 'outcome mono' });
  const killButton = h('button', { type: 'button', class: 'danger small', text: 'Kill', title: `DELETE /fibrils/${id}: kill it and its descendants`, onclick: () => kill(id) });
  const row = h('div', { class: 'fib-row' }, state, idButton, metrics, outcome, h('span', { class: 'grow' }), killButton);
  const ul = h('ul');
  const li = h('li', { dataset: { id } }, row, ul);
  r = { li, row, state, metrics, outcome, kill: killButton, ul };
  rows.set(id, r);
  return r;
}

function paint(rec) {
  const r = rowFor(rec.id);
  r.li.dataset.state = rec.state;
  r.state.textContent = rec.state;
  r.state.dataset.state = rec.state;
  r.metrics.textContent = `${rec.cpu_ms ?? 0} ms · ${fmtBytes(rec.memory_bytes ?? 0)}`;
  r.metrics.title = `cpu_ms ${rec.cpu_ms}, memory_bytes ${rec.memory_bytes}; created ${rec.created}${rec.ended ? `, ended ${rec.ended}` : ''}`;
  let out = '';
  if (rec.state === 'done') out = `=> ${brief(rec.result, 60)}`;
  else if (rec.state === 'failed' && rec.error) out = `${rec.error.class}: ${rec.error.message}`;
  else if (rec.state === 'killed') out = rec.reason || 'killed';
  r.outcome.textContent = out;
  r.outcome.dataset.state = rec.state;
  r.row.classList.toggle('selected', rec.id === selectedId);
  if (FINAL.has(rec.state) && r.kill.contains(document.activeElement)) r.li.querySelector('.link').focus();
  r.kill.hidden = FINAL.has(rec.state);
}

/** Puts every row under its parent (or flat when filtering by state). */
function place(full) {
  const filter = els.filter.value;
  if (full) for (const r of rows.values()) r.li.remove();
  let shown = 0;
  const counts = {};
  for (const rec of recs.values()) {
    paint(rec);
    counts[rec.state] = (counts[rec.state] || 0) + 1;
    const r = rows.get(rec.id);
    const parent = !filter && rec.parent && recs.has(rec.parent) ? rowFor(rec.parent).ul : els.tree;
    if (r.li.parentNode !== parent) parent.append(r.li);
    r.li.hidden = Boolean(filter) && rec.state !== filter;
    if (!r.li.hidden) shown++;
  }
  const parts = Object.entries(counts).map(([s, n]) => `${n} ${s}`);
  els.count.textContent = recs.size ? `(${parts.join(', ')})` : '';
  let empty = els.tree.querySelector('.empty');
  if (shown === 0 && !empty) els.tree.append(h('li', { class: 'empty muted', text: recs.size ? 'none in this state' : 'no fibrils yet: spawn one' }));
  else if (shown > 0 && empty) empty.remove();
  empty = els.tree.querySelector('.empty');
  if (empty && shown === 0) els.tree.append(empty); // keep it last
  if (selectedId && recs.has(selectedId)) detail(recs.get(selectedId));
}

async function kill(id) {
  try {
    await api('DELETE', `/fibrils/${seg(id)}`);
    toast(`killed ${id}`);
    const { body } = await api('GET', `/fibrils/${seg(id)}`);
    merge(body);
    schedule();
  } catch (e) {
    toast(describe(e), true);
  }
}

function select(id) {
  selectedId = id;
  shownDetail = '';
  for (const [k, r] of rows) r.row.classList.toggle('selected', k === id);
  if (recs.has(id)) detail(recs.get(id));
}

/** The selected fibril's record (redrawn only when it changed). */
function detail(rec) {
  const text = JSON.stringify(rec);
  if (text === shownDetail) return;
  shownDetail = text;
  els.detail.className = '';
  const links = [];
  if (rec.channels) {
    const end = (uri) => `#/channels/${seg(uri.replace(/^\/channels\//, ''))}`;
    links.push(h('a', { href: end(rec.channels.send), title: `${rec.channels.send}: what is sent here, the fibril reads with PARENT.recv`, text: 'send to it' }));
    links.push(h('a', { href: end(rec.channels.recv), title: `${rec.channels.recv}: what the fibril sends with PARENT.send`, text: 'hear from it' }));
  }
  if (rec.parent) links.push(h('button', { type: 'button', class: 'link', text: `parent ${rec.parent}`, onclick: () => select(rec.parent) }));
  const code = h('div', { class: 'sub' });
  fill(els.detail,
    h('div', { class: 'detail-head' }, h('h3', {}, h('code', { text: rec.id })),
      h('span', { class: 'state', dataset: { state: rec.state }, text: rec.state }), h('span', { class: 'grow' }),
      ...links.flatMap((l) => [l, ' '])),
    h('dl', { class: 'kv' },
      h('dt', { text: 'created' }), h('dd', { title: rec.created, text: fmtTime(rec.created) }),
      h('dt', { text: 'ended' }), h('dd', { title: rec.ended || '', text: rec.ended ? fmtTime(rec.ended) : '–' }),
      h('dt', { text: 'cpu' }), h('dd', { text: `${rec.cpu_ms} ms of ${rec.budget && rec.budget.cpu_ms ? rec.budget.cpu_ms : 'the default'}` }),
      h('dt', { text: 'memory' }), h('dd', { text: fmtBytes(rec.memory_bytes) })),
    rec.state === 'failed' && rec.error
      ? h('div', { class: 'err' }, h('strong', { text: rec.error.class }), ': ', rec.error.message) : null,
    h('h4', { text: 'record' }), jsonTree(rec, { open: 1 }),
    rec.code ? h('details', { class: 'code-src', ontoggle: (e) => { if (e.target.open) source(rec.code, code); } },
      h('summary', { text: 'code' }), code) : null);
}

async function source(fp, el) {
  try {
    const { body } = await api('GET', `/code/${fp}`);
    fill(el, h('pre', { class: 'mono', text: body.source }));
  } catch (e) {
    fill(el, h('div', { class: 'error', text: describe(e) }));
  }
}

// ----------------------------------------------------------------- spawn

async function spawn() {
  const f = els.form.elements;
  const err = els.form.querySelector('.error');
  const ok = els.form.querySelector('.ok');
  showError(err, null);
  ok.hidden = true;
  ok.textContent = '';
  const body = { code: f.code.value };
  const fn = f.fn.value.trim();
  try {
    if (fn) {
      body.fn = fn;
      const args = f.args.value.trim() ? JSON.parse(f.args.value) : [];
      if (!Array.isArray(args)) throw new Error('args must be a JSON array');
      body.args = args;
    }
  } catch (e) {
    showError(err, new Error(`args: ${e.message}`));
    return;
  }
  const budget = {};
  if (f.cpu_ms.value) budget.cpu_ms = Number(f.cpu_ms.value);
  if (f.memory_bytes.value) budget.memory_bytes = Number(f.memory_bytes.value);
  if (Object.keys(budget).length) body.budget = budget;
  if (f.parent.value.trim()) body.parent = f.parent.value.trim();
  try {
    const { body: rec } = await api('POST', '/fibrils', { json: body });
    merge(rec);
    ok.hidden = false;
    ok.textContent = `spawned ${rec.id}`;
    select(rec.id);
    schedule();
  } catch (e) {
    showError(err, e);
  }
}
