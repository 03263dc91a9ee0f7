// channels.js — the Channels pane: the node's channels (GET /channels),
// making one (POST /channels), sending a JSON value on a send end
// (POST /channels/{id}), and a live receive stream of a receive end
// (EventSource on GET /channels/{id}: text/event-stream, one `message`
// event per message, `close` at the end).

import { api, describe, seg, showError } from './api.js';
import { $, brief, ctrlEnterSubmits, fill, fmtTime, h, toast } from './dom.js';
import { jsonTree } from './tree.js';

const REFRESH_MS = 2000;
// The node notices a stream whose client left only at its next heartbeat,
// and a message handed to it meanwhile is lost (delivery is at most once):
// a short heartbeat keeps that window small.
const HEARTBEAT_S = 2;

let els = null;
let listNext = null;
let timer = null;
let current = null; // the channel shown: {channel, type, mode, ...}
let stream = null; // {es, end}
let log = [];

export function init() {
  els = {
    form: $('#ch-form'),
    rows: $('#ch-list tbody'),
    count: $('#ch-count'),
    more: $('#ch-more'),
    error: $('#ch-error'),
    detail: $('#ch-detail'),
  };
  els.form.addEventListener('submit', (e) => { e.preventDefault(); create(); });
  $('#ch-refresh').addEventListener('click', () => refresh());
  els.more.addEventListener('click', () => refresh(true));
}

export function show(arg) {
  refresh();
  clearInterval(timer);
  timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
  if (arg) openEnd(arg);
}

export function hide() {
  clearInterval(timer);
  timer = null;
  stopListening('left the pane');
}

const endId = (uri) => uri.replace(/^\/channels\//, '');

// ------------------------------------------------------------------ list

let pages = 1;

async function refresh(more = false) {
  if (more) pages++;
  let items = [];
  try {
    let cursor = null;
    for (let p = 0; p < pages; p++) {
      const { body } = await api('GET', `/channels?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      items = items.concat(body.items);
      cursor = body.next;
      if (!cursor) break;
    }
    listNext = cursor;
    showError(els.error, null);
  } catch (e) {
    showError(els.error, e);
    return;
  }
  els.more.hidden = !listNext;
  const seen = new Set();
  for (const c of items) {
    seen.add(c.channel);
    let tr = els.rows.querySelector(`tr[data-id="${CSS.escape(c.channel)}"]`);
    if (!tr) {
      tr = h('tr', { tabindex: '0', dataset: { id: c.channel } });
      tr.addEventListener('click', () => select(tr.chan));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') select(tr.chan);
        if (e.key === 'ArrowDown' && tr.nextElementSibling) { e.preventDefault(); tr.nextElementSibling.focus(); }
        if (e.key === 'ArrowUp' && tr.previousElementSibling) { e.preventDefault(); tr.previousElementSibling.focus(); }
      });
      els.rows.append(tr);
    }
    tr.chan = c;
    fill(tr, h('td', {}, h('code', { text: c.channel })), h('td', { class: 'mono', text: typeText(c.type) }),
      h('td', { text: c.mode }), h('td', { text: String(c.capacity) }), h('td', { text: String(c.queued) }),
      h('td', { text: `${c.send_open}/${c.recv_open}` }));
    tr.classList.toggle('selected', current && current.channel === c.channel);
    if (current && current.channel === c.channel) {
      const ends = (x) => JSON.stringify([x.send, x.recv]);
      const changed = ends(current) !== ends(c);
      current = { ...current, ...c };
      if (changed) { // an end opened or closed: redraw, keeping what the form shows
        const keep = ['textarea', '.ok', '.error'].map((sel) => {
          const el = $(`#ch-send ${sel}`);
          return el && { sel, value: el.value, text: el.textContent, hidden: el.hidden };
        });
        renderDetail();
        for (const k of keep) {
          const el = k && $(`#ch-send ${k.sel}`);
          if (!el) continue;
          if (k.sel === 'textarea') el.value = k.value;
          else { el.textContent = k.text; el.hidden = k.hidden; }
        }
      } else {
        renderInfo();
      }
    }
  }
  for (const tr of [...els.rows.querySelectorAll('tr[data-id]')]) if (!seen.has(tr.dataset.id)) tr.remove();
  const empty = els.rows.querySelector('tr.empty');
  if (items.length === 0 && !empty) els.rows.append(h('tr', { class: 'empty' }, h('td', { colspan: '6', class: 'muted', text: 'no channels yet' })));
  if (items.length > 0 && empty) empty.remove();
  els.count.textContent = `${items.length} channel${items.length === 1 ? '' : 's'}`;
}

const typeText = (t) => (typeof t === 'string' ? t : JSON.stringify(t));

async function create() {
  const f = els.form.elements;
  const err = els.form.querySelector('.error');
  showError(err, null);
  let type = f.type.value.trim();
  if (type.startsWith('{')) {
    try { type = JSON.parse(type); } catch (e) { showError(err, new Error(`type: ${e.message}`)); return; }
  }
  const spec = { type, mode: f.mode.value };
  if (f.capacity.value !== '') spec.capacity = Number(f.capacity.value);
  if (spec.mode === 'sync') spec.capacity = 0;
  try {
    const { body } = await api('POST', '/channels', { json: spec });
    toast(`channel ${body.id} created`);
    await refresh();
    const tr = els.rows.querySelector(`tr[data-id="${CSS.escape(body.id)}"]`);
    select(tr ? tr.chan : { channel: body.id, type: body.type, mode: body.mode, capacity: body.capacity, queued: 0, send_open: 1, recv_open: 1, send: [body.send], recv: [body.recv] });
  } catch (e) {
    showError(err, e);
  }
}

/** Shows the channel of an end given by id (from another pane's link). */
async function openEnd(id) {
  try {
    const { body } = await api('GET', `/channels/${seg(id)}?info`);
    select(body);
  } catch (e) {
    fill(els.detail, h('div', { class: 'error', text: describe(e) }));
  }
}

// ---------------------------------------------------------------- detail

function select(c) {
  if (!c) return;
  if (!current || current.channel !== c.channel) {
    stopListening(null);
    log = [];
    current = c;
    renderDetail();
  }
  for (const tr of els.rows.querySelectorAll('tr[data-id]')) tr.classList.toggle('selected', tr.dataset.id === c.channel);
}

function renderInfo() {
  const info = els.detail.querySelector('.ch-info');
  if (!info) return;
  const c = current;
  fill(info,
    h('dt', { text: 'type' }), h('dd', { class: 'mono', text: typeText(c.type) }),
    h('dt', { text: 'mode' }), h('dd', { text: `${c.mode}, capacity ${c.capacity}` }),
    h('dt', { text: 'queued' }), h('dd', { text: String(c.queued) }),
    h('dt', { text: 'open ends' }), h('dd', { text: `${c.send_open} send, ${c.recv_open} receive` }));
}

function renderDetail() {
  const c = current;
  const sendEnd = h('select', { name: 'end', 'aria-label': 'send end' }, (c.send || []).map((u) => h('option', { value: u, text: u })));
  const recvEnd = h('select', { name: 'end', 'aria-label': 'receive end' }, (c.recv || []).map((u) => h('option', { value: u, text: u })));
  const sendForm = h('form', { class: 'form', id: 'ch-send' },
    h('h4', { text: 'Send' }),
    h('label', {}, 'on ', sendEnd),
    h('label', {}, 'value (JSON)', h('textarea', { name: 'value', rows: '3', spellcheck: 'false', value: '42' })),
    h('div', { class: 'form-bar' },
      h('label', { class: 'inline' }, 'wait s ', h('input', { name: 'wait', type: 'number', min: '0', max: '60', value: '0' })),
      h('button', { class: 'primary', text: 'Send' }),
      h('span', { class: 'muted', text: 'Ctrl+Enter sends' })),
    h('div', { class: 'error', role: 'alert', hidden: true }),
    h('div', { class: 'ok', role: 'status', hidden: true }));
  sendForm.addEventListener('submit', (e) => { e.preventDefault(); send(sendForm); });
  ctrlEnterSubmits(sendForm);
  const listenBtn = h('button', { type: 'button', class: 'primary', id: 'ch-listen', text: 'Listen' });
  listenBtn.addEventListener('click', () => (stream ? stopListening('stopped') : listen(recvEnd.value)));
  const oneBtn = h('button', { type: 'button', text: 'Receive one', title: 'GET the end with ?wait=0: the next message, or 204' });
  oneBtn.addEventListener('click', () => receiveOne(recvEnd.value));
  const receive = h('div', { class: 'form' },
    h('h4', { text: 'Receive' }),
    c.recv && c.recv.length
      ? [h('label', {}, 'from ', recvEnd),
        h('div', { class: 'form-bar' }, listenBtn, oneBtn,
          h('span', { id: 'ch-stream-state', class: 'badge', dataset: { state: 'off' }, text: '○ not listening' }))]
      : h('p', { class: 'muted', text: 'no open receive end' }),
    h('p', { class: 'muted small', text: `Receiving takes messages off the channel: each goes to one receiver. A stopped stream is let go at its next heartbeats (every ${HEARTBEAT_S} s); a message sent before then is lost (at most once).` }));
  fill(els.detail,
    h('div', { class: 'detail-head' }, h('h3', {}, h('code', { text: c.channel }))),
    h('dl', { class: 'kv ch-info' }),
    h('div', { class: 'ch-io' },
      c.send && c.send.length ? sendForm : h('p', { class: 'muted', text: 'no open send end' }),
      receive),
    h('h4', { text: 'Received' }),
    h('ol', { class: 'msg-log', id: 'ch-log', 'aria-live': 'polite' }));
  renderInfo();
  renderLog();
  if (stream) {
    recvEnd.value = stream.end;
    streamState('live', `● listening on ${stream.end}`);
  }
}

async function send(form) {
  const f = form.elements;
  const err = form.querySelector('.error');
  const ok = form.querySelector('.ok');
  showError(err, null);
  ok.hidden = true;
  ok.textContent = '';
  const text = f.value.value;
  try { JSON.parse(text); } catch (e) { showError(err, new Error(`not JSON: ${e.message}`)); return; }
  const wait = f.wait.value ? `?wait=${Number(f.wait.value)}` : '';
  try {
    const { body } = await api('POST', `${f.end.value}${wait}`, { text, headers: { 'Content-Type': 'application/json' } });
    ok.hidden = false;
    ok.textContent = `sent, seq ${body.seq}`;
    refresh();
  } catch (e) {
    showError(err, e);
  }
}

// --------------------------------------------------------------- receive

function streamState(state, text) {
  const b = $('#ch-stream-state');
  if (b) { b.dataset.state = state; b.textContent = text; }
  const btn = $('#ch-listen');
  if (btn) btn.textContent = stream ? 'Stop' : 'Listen';
}

function listen(end) {
  stopListening(null);
  const es = new EventSource(`${end}?heartbeat=${HEARTBEAT_S}`);
  stream = { es, end };
  streamState('connecting', '… connecting');
  es.onopen = () => streamState('live', `● listening on ${end}`);
  es.addEventListener('message', (e) => {
    let v;
    try { v = JSON.parse(e.data); } catch { v = e.data; }
    addLog({ seq: e.lastEventId, value: v });
  });
  es.addEventListener('close', (e) => {
    let why = 'closed';
    try { why = JSON.parse(e.data).reason || why; } catch { /* plain */ }
    stopListening(`the stream ended: ${why}`);
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) stopListening('the stream was refused (the end is closed, gone or not a receive end)');
    else streamState('connecting', '… reconnecting');
  };
}

function stopListening(why) {
  if (!stream) return;
  stream.es.close();
  stream = null;
  streamState('off', '○ not listening');
  if (why) addLog({ note: why });
}

async function receiveOne(end) {
  try {
    const r = await api('GET', `${end}?wait=0`);
    if (r.status === 204) addLog({ note: 'nothing queued (204)' });
    else addLog({ seq: r.headers.get('M31-Message-Seq'), value: r.body });
    refresh();
  } catch (e) {
    addLog({ note: describe(e) });
  }
}

function addLog(m) {
  log.push({ ...m, at: new Date().toISOString() });
  if (log.length > 500) log = log.slice(-500);
  renderLog();
}

function renderLog() {
  const ol = $('#ch-log');
  if (!ol) return;
  fill(ol, log.map((m) => (m.note
    ? h('li', { class: 'note' }, h('span', { class: 'muted', text: fmtTime(m.at) }), ' ', m.note)
    : h('li', { class: 'msg' },
      h('span', { class: 'seq', text: `#${m.seq}` }),
      h('span', { class: 'muted', text: fmtTime(m.at) }),
      m.value !== null && typeof m.value === 'object' ? jsonTree(m.value, { open: 1 }) : h('code', { class: 'mono', text: brief(m.value, 400) })))));
  ol.scrollTop = ol.scrollHeight;
}
