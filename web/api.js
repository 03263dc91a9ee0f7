// api.js — requests to this node. Every error answer of the node is
// application/problem+json; an ApiError carries it so panes can show its
// title and detail.

export class ApiError extends Error {
  constructor(status, problem, where) {
    const p = problem && typeof problem === 'object' ? problem : null;
    super(p ? `${p.title}: ${p.detail}` : `${status} ${typeof problem === 'string' ? problem : ''}`.trim());
    this.status = status;
    this.problem = p;
    this.text = typeof problem === 'string' ? problem : '';
    this.where = where;
  }
}

/**
 * One request. opts.json (any value) is sent as application/json; opts.text
 * as text/plain. Answers {status, headers, body}: body is parsed JSON for a
 * JSON answer, the text otherwise, null when empty. Throws ApiError for
 * 4xx/5xx (unless opts.ok lists the status) and a plain Error when the node
 * cannot be reached.
 */
export async function api(method, path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  let body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    headers['Content-Type'] = 'application/json';
  } else if (opts.text !== undefined) {
    body = opts.text;
    headers['Content-Type'] ??= 'text/plain; charset=utf-8';
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new Error(`the node did not answer ${method} ${path} (${e.message})`);
  }
  const ctype = res.headers.get('content-type') || '';
  const text = await res.text();
  let parsed = text.length ? text : null;
  if (text.length && /^application\/(problem\+)?json\b/.test(ctype)) {
    try { parsed = JSON.parse(text); } catch { /* keep the text */ }
  }
  if (res.status >= 400 && !(opts.ok || []).includes(res.status)) {
    throw new ApiError(res.status, parsed, `${method} ${path}`);
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Percent-encodes one path segment (a space name, key, id). */
export const seg = (s) => encodeURIComponent(s);

/** A sentence for any error: the problem's title, status, detail, field. */
export function describe(err) {
  if (err instanceof ApiError) {
    const p = err.problem;
    if (!p) return `${err.status}: ${err.text || 'error'} (${err.where})`;
    let s = `${p.title} (${p.status})`;
    if (p.detail) s += `: ${p.detail}`;
    if (p.field) s += ` [${p.field}]`;
    if (p.line) s += ` (line ${p.line})`;
    return s;
  }
  return err && err.message ? err.message : String(err);
}

/** Shows err in el (role=alert), or clears el when err is null. */
export function showError(el, err) {
  if (!el) return;
  if (!err) {
    el.hidden = true;
    el.textContent = '';
    return;
  }
  el.hidden = false;
  el.textContent = describe(err);
}
