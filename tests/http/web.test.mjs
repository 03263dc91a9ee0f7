// GET / and GET /web/{file}: the browser console's files, embedded at build
// time, with a strong ETag (If-None-Match: 304), no-cache, nosniff and a
// Content-Security-Policy that allows only 'self' (resources/web.c). What
// the page does in a browser is tested in tests/browser/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkParts } from './lib/contract.mjs';
import { rawReq, startNode } from './lib/node.mjs';

let node;
before(async () => { node = await startNode(); });
after(async () => { await node?.stop(); });

async function get(path, headers = {}) {
  const res = await fetch(node.base + path, { headers });
  const text = await res.text();
  return { res, text, ctype: res.headers.get('content-type') || '' };
}

test('GET / is the page, with ETag, no-cache, nosniff and a self-only CSP', async () => {
  const { res, text, ctype } = await get('/');
  assert.equal(res.status, 200);
  assert.match(ctype, /^text\/html; charset=utf-8$/);
  assert.match(text, /^<!doctype html>/i);
  assert.match(res.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /^default-src 'self';/);
  assert.match(csp, /script-src 'self';/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:|\*/);
  assert.doesNotMatch(text, /<script>(?!<)|<script(?![^>]*\bsrc=)[^>]*>|\sstyle=|\son[a-z]+=/i,
    'no inline script, style attribute or inline handler');
  checkParts('GET', '/', res.status, ctype, text, res.headers);
});

test('every file the page names is served with its type; 304 on a matching If-None-Match', async () => {
  const { text } = await get('/');
  const refs = [...text.matchAll(/(?:src|href)="(\/web\/[^"]+)"/g)].map((m) => m[1]);
  assert.ok(refs.includes('/web/app.js') && refs.includes('/web/style.css'), refs.join(' '));
  const js = await get('/web/app.js');
  const modules = [...js.text.matchAll(/from '\.\/([a-z]+\.js)'/g)].map((m) => `/web/${m[1]}`);
  const want = { js: /^text\/javascript; charset=utf-8$/, css: /^text\/css; charset=utf-8$/, svg: /^image\/svg\+xml$/ };
  for (const path of [...new Set([...refs, ...modules])]) {
    const { res, ctype, text: body } = await get(path);
    assert.equal(res.status, 200, path);
    assert.match(ctype, want[path.split('.').pop()], path);
    assert.ok(body.length > 0, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
    checkParts('GET', '/web/{file}', res.status, ctype, body, res.headers);
    const tag = res.headers.get('etag');
    const again = await get(path, { 'If-None-Match': tag });
    assert.equal(again.res.status, 304, path);
    assert.equal(again.text, '');
    assert.equal(again.res.headers.get('etag'), tag);
    checkParts('GET', '/web/{file}', 304, '', '', again.res.headers);
    const other = await get(path, { 'If-None-Match': '"0000"' });
    assert.equal(other.res.status, 200, path);
  }
  const root = await get('/');
  assert.equal((await get('/', { 'If-None-Match': root.res.headers.get('etag') })).res.status, 304);
});

test('an unknown console file is 404 problem+json; HEAD answers the headers', async () => {
  // rawReq sends the path as it is (fetch would resolve the dots).
  for (const path of ['/web/nope.js', '/web/..', '/web/.', '/web/%2e%2e', '/web/a%2fb', '/web/index.html%00',
    '/web/', '/web/app.js/x', '/web%2fapp.js']) {
    const r = await rawReq(node.base, 'GET', path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.match(r.ctype, /^application\/problem\+json/, path);
    assert.equal(r.body.status, r.status, path);
  }
  const nope = await get('/web/nope.js');
  checkParts('GET', '/web/{file}', 404, nope.ctype, JSON.parse(nope.text), nope.res.headers);
  const head = await fetch(`${node.base}/web/style.css`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.match(head.headers.get('etag'), /^"[0-9a-f]{32}"$/);
  assert.equal(await head.text(), '');
});
