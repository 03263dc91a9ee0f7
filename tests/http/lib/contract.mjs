// contract.mjs — checks real answers against openapi/openapi.json.
//
// checkResponse(res, body, operationPath, method) validates one real answer
// (a req()/rawReq() result or a fetch Response, and its parsed body) against
// the response the document declares for that operation and status;
// checkParts(method, pathTemplate, status, contentType, body[, headers]) is
// the same from the parts. Both use (JSON Schema 2020-12 with ajv and ajv-formats; the
// document's components are registered and #/components/... references
// resolved). An operation, status or media type the document does not
// declare is a failure: the contract must describe every real answer.
//
// client(base) wraps the request helpers and records every answer, so a
// test file can check them all at once at its end (verify()), keeping the
// other tests independent of the contract's state.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { REPO, req, rawReq, startNode } from './node.mjs';

export const OPENAPI_JSON = join(REPO, 'openapi/openapi.json');

/** The node's real routes (resources/routes.c), for mapping paths. */
export const TEMPLATES = [
  '/fs',
  '/fs/{space}',
  '/fs/{space}/{key}',
  '/fs/{space}/{key}/versions',
  '/fs/{space}/{key}/branches',
  '/sys/health',
  '/sys/info',
  '/sys/metrics',
  '/openapi.json',
  '/code',
  '/code/{fingerprint}',
  '/fibrils',
  '/fibrils/{id}',
  '/channels',
  '/channels/{id}',
  '/channels/{id}/clones',
  '/channels/{id}/close',
  '/repl',
  '/repl/{id}',
];

const SCHEMA_URN = 'urn:m31:schema:';

let loaded = null; // {doc, ajv, cache}

function load() {
  if (loaded) return loaded;
  const doc = JSON.parse(readFileSync(OPENAPI_JSON, 'utf8'));
  const ajv = new Ajv2020({
    strict: true, strictTypes: false, allowUnionTypes: true, allErrors: true,
  });
  addFormats(ajv);
  // OpenAPI's own schema keywords are annotations for validation.
  ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  const schemas = doc.components?.schemas || {};
  for (const [name, s] of Object.entries(schemas)) {
    ajv.addSchema({ ...rewriteRefs(s), $id: SCHEMA_URN + name });
  }
  loaded = { doc, ajv, cache: new Map() };
  return loaded;
}

/** Turns "#/components/schemas/X" into the registered id of X. */
function rewriteRefs(v) {
  if (Array.isArray(v)) return v.map(rewriteRefs);
  if (v && typeof v === 'object') {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === '$ref' && typeof x === 'string') {
        const m = /^#\/components\/schemas\/(.+)$/.exec(x);
        if (m) { out[k] = SCHEMA_URN + decodePointer(m[1]); continue; }
        if (x.startsWith('#/')) {
          throw new Error(`$ref ${x}: only #/components/schemas/... is resolved inside a schema`);
        }
      }
      out[k] = rewriteRefs(x);
    }
    return out;
  }
  return v;
}

function decodePointer(s) {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Follows an OpenAPI-level $ref ("#/components/responses/X", ...). */
function deref(doc, obj) {
  for (let i = 0; obj && obj.$ref && i < 10; i++) {
    const ref = obj.$ref;
    assert.ok(ref.startsWith('#/'), `unsupported $ref ${ref}`);
    obj = ref.slice(2).split('/').map(decodePointer)
      .reduce((o, k) => (o == null ? undefined : o[k]), doc);
    assert.ok(obj !== undefined, `dangling $ref ${ref}`);
  }
  return obj;
}

function validator(key, schema) {
  const { ajv, cache } = load();
  let v = cache.get(key);
  if (!v) {
    v = ajv.compile(rewriteRefs(schema));
    cache.set(key, v);
  }
  return v;
}

function describeErrors(v) {
  return (v.errors || []).slice(0, 6)
    .map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`)
    .join('; ');
}

/**
 * Validates one answer. `body` is the parsed JSON for JSON media types, the
 * text otherwise, and undefined or '' when the answer had none. `headers`
 * (a Headers, optional) is checked against the response's declared headers
 * that have a schema.
 */
export function checkParts(method, pathTemplate, status, contentType, body, headers) {
  const { doc } = load();
  const where = `${method.toUpperCase()} ${pathTemplate} -> ${status}`;
  const item = doc.paths?.[pathTemplate];
  assert.ok(item, `${where}: the contract has no path ${pathTemplate}`);
  const op = item[method.toLowerCase()];
  assert.ok(op, `${where}: the contract has no ${method.toUpperCase()} operation on ${pathTemplate}`);
  const s = String(status);
  const responses = op.responses || {};
  const declared = responses[s] ?? responses[`${s[0]}XX`] ?? responses.default;
  assert.ok(declared, `${where}: the contract declares no ${status} answer (it has ${Object.keys(responses).join(', ')})`);
  const resp = deref(doc, declared);

  const empty = body === undefined || body === '' || body === null;
  const media = (contentType || '').split(';')[0].trim().toLowerCase();
  if (empty && !media) {
    assert.ok(!resp.content || Object.keys(resp.content).length === 0,
      `${where}: the answer has no body but the contract declares ${Object.keys(resp.content || {}).join(', ')}`);
  } else {
    const content = resp.content || {};
    const mt = content[media];
    assert.ok(mt, `${where}: the answer is ${media || '(no type)'} but the contract declares ${Object.keys(content).join(', ') || 'no body'}`);
    if (mt.schema) {
      const v = validator(`${method} ${pathTemplate} ${s} ${media}`, mt.schema);
      assert.ok(v(body), `${where} (${media}): body does not fit the contract: ${describeErrors(v)}; body: ${truncate(JSON.stringify(body))}`);
    }
  }

  if (headers && resp.headers) {
    for (const [name, hdecl] of Object.entries(resp.headers)) {
      const h = deref(doc, hdecl);
      const value = headers.get(name);
      if (value === null) {
        assert.ok(!h.required, `${where}: required header ${name} is missing`);
        continue;
      }
      if (h.schema) {
        const sch = deref(doc, h.schema);
        const v = validator(`${where} header ${name}`, sch);
        const val = sch.type === 'integer' || sch.type === 'number' ? Number(value) : value;
        assert.ok(v(val), `${where}: header ${name}: ${value} does not fit the contract: ${describeErrors(v)}`);
      }
    }
  }
}

/**
 * Validates a real answer against the contract. `res` is what req() or
 * rawReq() answered (or a fetch Response); `body` its parsed JSON (or its
 * text for other media types; undefined: res.body ?? res.text);
 * `operationPath` a path template of the document ("/fs/{space}/{key}") or
 * a concrete path, which is mapped to its template.
 */
export function checkResponse(res, body, operationPath, method) {
  const path = operationPath.includes('{') ? operationPath : templateOf(operationPath);
  const ctype = res.ctype ?? res.headers.get('content-type') ?? '';
  const b = body !== undefined ? body : (res.body !== undefined ? res.body : res.text);
  const { doc } = load();
  // The router's own answers (no route: 404; a route without this method:
  // 405 with Allow) are described once, as components/responses.
  if (!path || (res.status === 405 && !doc.paths?.[path]?.[method.toLowerCase()])) {
    assert.ok(res.status === 404 || res.status === 405 || res.status === 400,
      `${method} ${operationPath} -> ${res.status}: no route, so only 400, 404 or 405 can be answered`);
    assert.match(ctype, /^application\/problem\+json/, `${res.status} is not problem+json`);
    checkProblem(b);
    if (res.status === 405) {
      assert.match(res.headers.get('allow') || '', /^[A-Z]+(, ?[A-Z]+)*$/, '405 without a good Allow');
    }
    return;
  }
  checkParts(method, path, res.status, ctype, b, res.headers);
}

/** Validates a body against components/schemas/Problem (router-level errors). */
export function checkProblem(body) {
  const { ajv } = load();
  const v = ajv.getSchema(`${SCHEMA_URN}Problem`);
  assert.ok(v, 'the contract has no components/schemas/Problem');
  assert.ok(v(body), `problem does not fit components/schemas/Problem: ${describeErrors(v)}; body: ${truncate(JSON.stringify(body))}`);
}

/** Validates value against components/schemas/<name> (e.g. an SSE event's data). */
export function checkSchema(name, value) {
  const { ajv } = load();
  const v = ajv.getSchema(`${SCHEMA_URN}${name}`);
  assert.ok(v, `the contract has no components/schemas/${name}`);
  assert.ok(v(value), `${name} does not fit the contract: ${describeErrors(v)}; value: ${truncate(JSON.stringify(value))}`);
}

/** The route template a raw path (without query) matches, or null. */
export function templateOf(path) {
  const p = path.split('?')[0].split('/');
  for (const t of TEMPLATES) {
    const s = t.split('/');
    if (s.length !== p.length) continue;
    if (s.every((seg, i) => seg.startsWith('{') || seg === p[i])) return t;
  }
  return null;
}

function truncate(s, n = 600) {
  return s && s.length > n ? `${s.slice(0, n)}...` : s;
}

/**
 * A client that records every answer for a later contract check. Answers
 * of the router itself (no route: 404; a route without that method: 405)
 * are checked against the Problem schema only. Requests given
 * {contract: false} (in their options or as a fourth argument: bulk loads)
 * are not recorded.
 */
export function client(base) {
  const answers = [];
  function record(method, path, res, opts, extra) {
    if (opts?.contract === false || extra?.contract === false) return res;
    answers.push({ method, path, res });
    return res;
  }
  return {
    base,
    answers,
    async req(method, path, opts = {}, extra = {}) {
      return record(method, path, await req(base, method, path, opts), opts, extra);
    },
    async raw(method, path, opts = {}, extra = {}) {
      return record(method, path, await rawReq(base, method, path, opts), opts, extra);
    },
    /** Records an answer read off a raw socket (rawExchange). */
    recordRaw(method, path, r) {
      const headers = new Headers();
      for (const [k, v] of Object.entries(r.headers)) headers.set(k, v);
      const ctype = headers.get('content-type') || '';
      let body;
      if (/json/.test(ctype) && r.body) {
        try { body = JSON.parse(r.body); } catch { body = r.body; }
      }
      answers.push({ method, path, res: { status: r.status, headers, ctype, text: r.body, body } });
      return r;
    },
    /** Checks every recorded answer; one failure lists them all. */
    verify() {
      load();
      const failures = new Map();
      for (const { method, path, res } of answers) {
        const t = templateOf(path);
        const routerAnswer = !t || res.status === 405;
        try {
          if (routerAnswer && res.status >= 400) {
            assert.match(res.ctype, /^application\/problem\+json/, `${res.status} is not problem+json`);
            checkProblem(res.body);
            if (res.status === 405) {
              assert.match(res.headers.get('allow') || '', /^[A-Z]+(, ?[A-Z]+)*$/, '405 without a good Allow');
            }
          } else {
            checkParts(method, t ?? path, res.status, res.ctype,
              res.body !== undefined ? res.body : res.text, res.headers);
          }
        } catch (e) {
          const msg = e.message.split('\n')[0];
          if (!failures.has(msg)) failures.set(msg, `${method} ${path}`);
        }
      }
      assert.ok(answers.length > 0, 'no answers were recorded');
      if (failures.size > 0) {
        assert.fail(`${failures.size} kind(s) of answer do not fit openapi/openapi.json:\n${
          [...failures].map(([m, r]) => `  - ${m}\n      (first seen: ${r})`).join('\n')}`);
      }
    },
  };
}

/**
 * Gives a test file its own fresh node (started before its tests) and a
 * recording client for it. After the file, every recorded answer is checked
 * against the contract and the node is stopped, also when that check fails.
 * Returns { node, api }, filled in by the time the tests run.
 */
export function useNode(opts) {
  const ctx = { node: null, api: null };
  before(async () => {
    ctx.node = await startNode(opts);
    ctx.api = client(ctx.node.base);
  });
  after(async () => {
    try {
      ctx.api?.verify();
    } finally {
      await ctx.node?.stop();
    }
  });
  return ctx;
}
