// repl.js — the REPL pane: a session (POST /repl), evaluation of the
// editor's text (POST /repl/{id}, text/plain), a transcript of inputs,
// outputs, results (JSON values as trees) and errors (class, message, line;
// the line is marked in the editor), and a history kept in localStorage.

import { api, ApiError, describe, seg } from './api.js';
import { $, fill, h } from './dom.js';
import { jsonTree } from './tree.js';

const HISTORY_KEY = 'm31.repl.history';
const HISTORY_MAX = 500;

let els = null;
let session = null; // {id, uri} once opened
let busy = false;
let history = loadHistory();
let hpos = history.length; // history.length: the draft
let draft = '';
let marked = 0; // the editor line marked as an error's, 0: none

function loadHistory() {
  try {
    const v = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function pushHistory(code) {
  history = loadHistory(); // another tab may have added some
  if (history[history.length - 1] !== code) history.push(code);
  if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(history)); } catch { /* full or off */ }
  hpos = history.length;
  draft = '';
}

export function init() {
  els = {
    ta: $('#repl-input'),
    gutter: $('#repl-gutter'),
    mark: $('#repl-mark'),
    transcript: $('#repl-transcript'),
    hint: $('#repl-hint'),
    run: $('#repl-run'),
    session: $('#repl-session'),
  };
  els.ta.addEventListener('keydown', onKey);
  els.ta.addEventListener('input', () => { unmark(); layout(); });
  els.ta.addEventListener('scroll', syncScroll);
  els.run.addEventListener('click', () => { if (busy) stop(); else run(false); els.ta.focus(); });
  $('#repl-clear').addEventListener('click', () => { fill(els.transcript); els.ta.focus(); });
  $('#repl-new').addEventListener('click', async () => {
    await close();
    note('a new session will be opened on the next run');
    els.ta.focus();
  });
  layout();
}

export function show() {
  els.ta.focus();
}

export function hide() {}

/** Ends the session (when leaving the page, or for a new one). */
export async function close() {
  if (!session) return;
  const uri = session.uri;
  session = null;
  showSession();
  try { await fetch(uri, { method: 'DELETE', keepalive: true }); } catch { /* gone already */ }
}

function showSession() {
  els.session.textContent = session ? `session ${session.id}` : 'no session yet (one is opened on the first run)';
}

function hint(text, kind = '') {
  els.hint.textContent = text;
  els.hint.dataset.kind = kind;
}

// ---------------------------------------------------------------- editor

function onKey(e) {
  if (e.isComposing) return;
  if (e.key === 'Enter' && !e.altKey) {
    if (e.shiftKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      newline();
      return;
    }
    e.preventDefault();
    run(true);
    return;
  }
  if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
    const { value, selectionStart: s, selectionEnd: t } = els.ta;
    if (s !== t) return;
    if (e.key === 'ArrowUp' && !value.slice(0, s).includes('\n')) {
      if (recall(-1)) e.preventDefault();
    } else if (e.key === 'ArrowDown' && !value.slice(t).includes('\n')) {
      if (recall(1)) e.preventDefault();
    }
    return;
  }
  if (e.key === 'Escape') {
    if (busy) { stop(); return; }
    unmark();
    hint('');
  }
}

/** Moves through the history; true when it did. */
function recall(dir) {
  history = loadHistory();
  if (hpos > history.length) hpos = history.length;
  const to = hpos + dir;
  if (to < 0 || to > history.length) return false;
  if (hpos === history.length) draft = els.ta.value;
  hpos = to;
  els.ta.value = to === history.length ? draft : history[to];
  const end = dir < 0 ? els.ta.value.indexOf('\n') : els.ta.value.length;
  els.ta.setSelectionRange(end < 0 ? els.ta.value.length : end, end < 0 ? els.ta.value.length : end);
  unmark();
  layout();
  return true;
}

/* Opens a block: the next line is indented one step more. */
const OPENS = /(\b(do|then|begin|else|elsif|rescue|ensure)\b\s*(\|[^|]*\|)?\s*$)|(^\s*(def|class|module|if|unless|while|until|case|for|when)\b)|([{[(]\s*(\|[^|]*\|)?\s*$)/;

/* Closes a block: typed on a deeper line, it moves back one step. */
const CLOSES = /^\s*(end|else|elsif\b.*|when\b.*|rescue\b.*|ensure|[}\])])\s*$/;

/**
 * Moves the caret's line back one indent step when it is only a block's
 * closer ("end", "}", ...) and its indent is no less than the line above
 * it; answers how many characters went.
 */
function dedent(pos) {
  const ta = els.ta;
  const lineStart = ta.value.lastIndexOf('\n', pos - 1) + 1;
  const lineEnd = ta.value.indexOf('\n', lineStart);
  const line = ta.value.slice(lineStart, lineEnd < 0 ? ta.value.length : lineEnd);
  if (!CLOSES.test(line) || !line.startsWith('  ') || lineStart === 0) return 0;
  const prevStart = ta.value.lastIndexOf('\n', lineStart - 2) + 1;
  const prevIndent = /^\s*/.exec(ta.value.slice(prevStart, lineStart - 1))[0].length;
  if (/^\s*/.exec(line)[0].length < prevIndent) return 0;
  ta.setRangeText('', lineStart, lineStart + 2, 'preserve');
  return 2;
}

/** Inserts a newline at the caret, keeping (or deepening) the indent. */
function newline(at) {
  const ta = els.ta;
  let pos = at ?? ta.selectionStart;
  pos -= dedent(pos);
  const lineStart = ta.value.lastIndexOf('\n', pos - 1) + 1;
  const line = ta.value.slice(lineStart, pos);
  let indent = /^\s*/.exec(line)[0];
  if (OPENS.test(line)) indent += '  ';
  ta.setSelectionRange(pos, at === undefined ? ta.selectionEnd : pos);
  if (!document.execCommand('insertText', false, `\n${indent}`)) {
    ta.setRangeText(`\n${indent}`, pos, ta.selectionEnd, 'end');
  }
  layout();
}

function lineHeight() {
  return parseFloat(getComputedStyle(els.ta).lineHeight) || 20;
}

/** Grows the editor with its text, repaints line numbers and the mark. */
function layout() {
  const lines = els.ta.value.split('\n').length;
  els.ta.rows = Math.min(Math.max(lines, 3), 18);
  const nums = [];
  for (let i = 1; i <= lines; i++) nums.push(h('div', { class: i === marked ? 'err' : null, text: String(i) }));
  fill(els.gutter, nums);
  syncScroll();
}

function syncScroll() {
  els.gutter.scrollTop = els.ta.scrollTop;
  if (!marked) return;
  const pad = parseFloat(getComputedStyle(els.ta).paddingTop) || 0;
  els.mark.style.top = `${pad + (marked - 1) * lineHeight() - els.ta.scrollTop}px`;
  els.mark.style.height = `${lineHeight()}px`;
}

function mark(line) {
  const lines = els.ta.value.split('\n').length;
  if (!Number.isInteger(line) || line < 1 || line > lines) return;
  marked = line;
  els.mark.hidden = false;
  // Bring the line into view.
  const lh = lineHeight();
  const top = (line - 1) * lh;
  if (top < els.ta.scrollTop || top > els.ta.scrollTop + els.ta.clientHeight - lh) {
    els.ta.scrollTop = Math.max(0, top - lh);
  }
  layout();
}

function unmark() {
  if (!marked) return;
  marked = 0;
  els.mark.hidden = true;
  layout();
}

// ------------------------------------------------------------ evaluation

async function openSession() {
  let r;
  try {
    r = await api('POST', '/repl', { json: {} });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) {
      throw new Error(`this node has no REPL yet: POST /repl answered ${describe(e)}`);
    }
    throw e;
  }
  const b = r.body || {};
  session = { id: b.id, uri: b.uri || `/repl/${seg(b.id)}` };
  showSession();
}

/** Evaluates code in the session (opening one, or a new one when it expired). */
async function evaluate(code) {
  for (let attempt = 0; ; attempt++) {
    if (!session) await openSession();
    try {
      return (await api('POST', session.uri, { text: code })).body;
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && attempt === 0) {
        session = null;
        note('the session had ended; opened a new one (earlier definitions are gone)');
        continue;
      }
      if (e instanceof ApiError && e.status === 409) {
        throw new Error(`the session is busy with an earlier evaluation: ${describe(e)}; wait, or open a new session`);
      }
      throw e;
    }
  }
}

function setBusy(on) {
  busy = on;
  els.run.textContent = on ? 'Stop' : 'Run';
  els.run.classList.toggle('danger', on);
  els.run.classList.toggle('primary', !on);
  if (on) els.ta.setAttribute('aria-busy', 'true');
  else els.ta.removeAttribute('aria-busy');
}

/**
 * Ends the running evaluation: GET /repl/{id} names its fibril while the
 * session is busy, and DELETE /fibrils/{id} kills just that (the session
 * goes on; its answer is an error of class Killed).
 */
async function stop() {
  if (!busy || !session) return;
  try {
    const { body } = await api('GET', session.uri);
    if (body && body.fibril) await api('DELETE', `/fibrils/${seg(body.fibril)}`, { ok: [404] });
  } catch (e) {
    note(`could not stop it: ${describe(e)}`);
  }
}

async function run(fromEnter) {
  if (busy) { hint('still running the previous input…', 'busy'); return; }
  if (!els.ta.value.trim()) return;
  const caret = els.ta.selectionStart - dedent(els.ta.selectionStart);
  const code = els.ta.value;
  setBusy(true);
  hint('running… (Esc or Stop ends it)', 'busy');
  let ans;
  try {
    ans = await evaluate(code);
  } catch (e) {
    entry(code, null, e);
    hint('');
    return;
  } finally {
    setBusy(false);
  }
  if (ans && ans.incomplete) {
    if (fromEnter) newline(caret);
    hint('incomplete input: go on typing; Enter checks again', 'incomplete');
    return;
  }
  hint('');
  pushHistory(code);
  entry(code, ans || {}, null);
  if (ans && ans.error) {
    mark(ans.error.line);
  } else {
    els.ta.value = '';
    unmark();
    layout();
  }
}

// ------------------------------------------------------------ transcript

function note(text) {
  els.transcript.append(h('div', { class: 'note', text }));
  els.transcript.scrollTop = els.transcript.scrollHeight;
}

function entry(code, ans, failure) {
  const errLine = ans && ans.error && Number.isInteger(ans.error.line) ? ans.error.line : 0;
  const lines = code.split('\n');
  const input = h('pre', { class: 'in', title: 'click to edit this input again', tabindex: '0' },
    lines.map((l, i) => h('div', { class: i + 1 === errLine ? 'err-line' : null },
      h('span', { class: 'prompt', text: lines.length > 1 ? String(i + 1).padStart(2) : '›' }), l)));
  const again = () => {
    els.ta.value = code;
    unmark();
    if (errLine) mark(errLine); else layout();
    els.ta.focus();
  };
  input.addEventListener('click', again);
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') again(); });

  const box = h('div', { class: 'entry' }, input);
  if (failure) {
    box.append(h('div', { class: 'err' }, describe(failure)));
  } else {
    if (ans.output) box.append(h('pre', { class: 'out', text: ans.output }));
    if (ans.error) {
      const e = ans.error;
      box.append(h('div', { class: 'err' },
        h('strong', { text: e.class || 'Error' }), ': ', e.message || '',
        errLine ? h('span', { class: 'err-at', text: ` (line ${errLine})` }) : null));
      if (Array.isArray(e.backtrace) && e.backtrace.length) {
        box.append(h('details', { class: 'bt' }, h('summary', { text: 'backtrace' }),
          h('pre', { text: e.backtrace.join('\n') })));
      }
    } else {
      const shown = typeof ans.result === 'string' ? ans.result : JSON.stringify(ans.value ?? null);
      box.append(h('div', { class: 'res' }, h('span', { class: 'arrow', text: '=> ' }), h('code', { text: shown })));
      if (ans.value !== null && typeof ans.value === 'object') box.append(jsonTree(ans.value, { open: 2 }));
    }
    const meta = [];
    if (ans.fibril) meta.push(`fibril ${ans.fibril}`);
    if (typeof ans.cpu_ms === 'number') meta.push(`${ans.cpu_ms} ms cpu`);
    if (meta.length) box.append(h('div', { class: 'meta', text: meta.join(' · ') }));
  }
  els.transcript.append(box);
  els.transcript.scrollTop = els.transcript.scrollHeight;
}
