// tree.js — JSON values as expandable trees: arrays and objects are
// <details> elements (keyboard: Tab to a summary, Enter or Space toggles).

import { h } from './dom.js';

/**
 * An element showing value. Containers deeper than `open` levels start
 * collapsed (open = 1: only the top level is shown expanded).
 */
export function jsonTree(value, { open = 2 } = {}) {
  return h('div', { class: 'jt' }, node(value, open, 0));
}

function node(v, open, depth) {
  if (v === null) return h('span', { class: 'j-null', text: 'null' });
  if (Array.isArray(v)) return container(v, v.map((x, i) => [i, x]), '[', ']', open, depth);
  switch (typeof v) {
    case 'string': return h('span', { class: 'j-str', text: JSON.stringify(v) });
    case 'number': return h('span', { class: 'j-num', text: String(v) });
    case 'boolean': return h('span', { class: 'j-bool', text: String(v) });
    case 'object': {
      const keys = Object.keys(v);
      if (keys.length === 1 && typeof v.$endpoint === 'string') {
        return h('span', { class: 'j-tag', title: 'a channel end', text: `endpoint ${v.$endpoint}` });
      }
      if (keys.length === 1 && typeof v.$bytes === 'string') {
        return h('span', { class: 'j-tag', title: 'bytes, base64', text: `bytes ${v.$bytes}` });
      }
      return container(v, keys.map((k) => [k, v[k]]), '{', '}', open, depth);
    }
    default: return h('span', { text: String(v) });
  }
}

function container(v, entries, lb, rb, open, depth) {
  const isArr = Array.isArray(v);
  if (entries.length === 0) return h('span', { class: 'j-punct', text: lb + rb });
  const count = `${entries.length} ${isArr ? (entries.length === 1 ? 'item' : 'items') : (entries.length === 1 ? 'key' : 'keys')}`;
  const d = h('details', { class: 'j-box' },
    h('summary', {}, h('span', { class: 'j-punct', text: lb }),
      h('span', { class: 'j-count', text: ` ${count} ` }),
      h('span', { class: 'j-punct j-close-inline', text: rb })));
  d.open = depth < open;
  const body = h('div', { class: 'j-body' });
  for (const [k, x] of entries) {
    body.append(h('div', { class: 'j-row' },
      h('span', { class: isArr ? 'j-idx' : 'j-key', text: isArr ? `${k}` : JSON.stringify(k) }),
      h('span', { class: 'j-punct', text: ': ' }),
      node(x, open, depth + 1)));
  }
  d.append(body, h('span', { class: 'j-punct j-close', text: rb }));
  return d;
}
