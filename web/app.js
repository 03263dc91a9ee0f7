// app.js — the console's frame: the left nav, the panes (one module each),
// the node's identity in the header, keyboard shortcuts. A pane is shown by
// the URL's fragment (#/repl, #/fs/<space>, #/fibrils, #/channels); only
// the shown pane keeps streams or polls open.

import { api } from './api.js';
import { $, $$ } from './dom.js';
import * as repl from './repl.js';
import * as fs from './fs.js';
import * as fibrils from './fibrils.js';
import * as channels from './channels.js';

const panes = { repl, fs, fibrils, channels };
const order = ['repl', 'fs', 'fibrils', 'channels'];
const started = new Set();
let current = null;

function route() {
  const parts = (location.hash || '#/repl').replace(/^#\/?/, '').split('/');
  const name = panes[parts[0]] ? parts[0] : 'repl';
  const arg = parts.slice(1).map(decodeURIComponent).join('/');
  if (current && current !== name) panes[current].hide();
  for (const el of $$('.pane')) el.hidden = el.dataset.pane !== name;
  for (const a of $$('.nav a')) {
    if (a.dataset.pane === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!started.has(name)) {
    started.add(name);
    panes[name].init();
  }
  current = name;
  panes[name].show(arg);
  document.title = `M31 · ${$(`.nav a[data-pane="${name}"] span`).textContent}`;
}

async function nodeInfo() {
  const el = $('#node-info');
  try {
    const { body: i } = await api('GET', '/sys/info');
    el.textContent = `node ${i.node} · v${i.version} · ${location.host}`;
    el.title = `data ${i.data}; started ${i.started}`;
  } catch (e) {
    el.textContent = `node unreachable: ${e.message}`;
    el.classList.add('bad');
  }
}

document.addEventListener('keydown', (e) => {
  if (e.altKey && !e.ctrlKey && !e.metaKey && /^[1-4]$/.test(e.key)) {
    e.preventDefault();
    location.hash = `#/${order[Number(e.key) - 1]}`;
  }
});
window.addEventListener('hashchange', route);
window.addEventListener('pagehide', () => { for (const n of started) panes[n].hide(); repl.close(); });
window.addEventListener('pageshow', (e) => { if (e.persisted && current) panes[current].show(''); });

nodeInfo();
route();
