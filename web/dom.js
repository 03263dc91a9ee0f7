// dom.js — a few helpers to build DOM without innerHTML (every value the
// node sends is shown as text, never parsed as markup).

/**
 * Makes an element. props: class, text, value, dataset, on<event>
 * handlers, boolean or string attributes; children: nodes, strings, arrays
 * (null and false are skipped).
 */
export function h(tag, props = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}

function append(el, kids) {
  for (const c of kids) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

/** Replaces an element's children. */
export function fill(el, ...kids) {
  el.replaceChildren();
  append(el, kids);
  return el;
}

/** "1.5 KiB" */
export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** "12:03:04" for an ISO date (the full date in a tooltip is the caller's). */
export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleTimeString([], { hour12: false });
}

/** Compact JSON, cut to n characters. */
export function brief(v, n = 80) {
  let s;
  try { s = JSON.stringify(v); } catch { s = String(v); }
  if (s === undefined) s = String(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

/**
 * A button that asks for a second press within 3 s before it acts (no
 * modal dialog: keyboard and test friendly).
 */
export function confirmButton(label, action, { confirmLabel = `Confirm ${label.toLowerCase()}`, cls = 'danger' } = {}) {
  let armed = null;
  const b = h('button', { type: 'button', class: cls, text: label });
  b.addEventListener('click', async () => {
    if (!armed) {
      b.textContent = confirmLabel;
      b.classList.add('armed');
      armed = setTimeout(() => { armed = null; b.textContent = label; b.classList.remove('armed'); }, 3000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    b.textContent = label;
    b.classList.remove('armed');
    await action();
  });
  return b;
}

/** Lets a <form> submit with Ctrl+Enter from any of its textareas. */
export function ctrlEnterSubmits(form) {
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && e.target.tagName === 'TEXTAREA') {
      e.preventDefault();
      form.requestSubmit();
    }
  });
}

/** Shows a short message at the bottom of the window for a few seconds. */
export function toast(text, bad = false) {
  const t = document.getElementById('toast');
  if (!t) return;
  t.textContent = text;
  t.classList.toggle('bad', bad);
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 3500);
}
