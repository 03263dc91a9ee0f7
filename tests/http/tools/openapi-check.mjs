#!/usr/bin/env node
// openapi-check (make openapi-check) — openapi/openapi.yaml must be a valid
// OpenAPI 3.1 document (checked with @seriousme/openapi-schema-validator),
// and openapi/openapi.json, which the node serves, must hold the same
// document, byte for byte what the generator makes of the YAML; every
// schema compiles strictly; the operations are the routes of
// resources/routes.c; error answers are problem+json. Exits 1 with a
// message saying what is wrong; 0 with one line when all is well.
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { JSON_PATH, REPO, YAML_PATH, jsonText, loadYaml } from './yaml.mjs';

const yamlName = relative(REPO, YAML_PATH);
const jsonName = relative(REPO, JSON_PATH);
const problems = [];

let fromYaml;
try {
  fromYaml = loadYaml();
} catch (e) {
  problems.push(`${yamlName} does not parse as YAML: ${e.message}`);
}

if (fromYaml !== undefined) {
  if (!fromYaml || typeof fromYaml !== 'object' || typeof fromYaml.openapi !== 'string'
      || !fromYaml.openapi.startsWith('3.1.')) {
    problems.push(`${yamlName}: "openapi" must be a 3.1.x version, found ${JSON.stringify(fromYaml?.openapi)}`);
  }
  const validator = new Validator();
  // The validator keeps the object it is given; hand it a copy.
  const res = await validator.validate(structuredClone(fromYaml));
  if (!res.valid) {
    const errs = Array.isArray(res.errors) ? res.errors : [res.errors];
    const lines = errs.slice(0, 20).map((e) => (typeof e === 'string' ? e
      : `${e.instancePath || '/'}: ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`));
    problems.push(`${yamlName} is not a valid OpenAPI ${validator.version ?? '3.1'} document:\n    ${lines.join('\n    ')}${
      errs.length > 20 ? `\n    ... and ${errs.length - 20} more` : ''}`);
  }
}

let fromJson;
try {
  fromJson = JSON.parse(readFileSync(JSON_PATH, 'utf8'));
} catch (e) {
  problems.push(`${jsonName} cannot be read as JSON: ${e.message}`);
}

if (fromYaml !== undefined && fromJson !== undefined && !isDeepStrictEqual(fromJson, fromYaml)) {
  problems.push(`${jsonName} is not the same document as ${yamlName} (first difference at ${
    firstDifference(fromYaml, fromJson)}); regenerate it with: node scripts/openapi-json.mjs`);
}

// Byte-exact: the JSON in git is what the generator makes of the YAML, so a
// hand edit of the JSON (or a stale one) cannot hide behind equal content.
if (fromYaml !== undefined && fromJson !== undefined && isDeepStrictEqual(fromJson, fromYaml)
    && readFileSync(JSON_PATH, 'utf8') !== jsonText(fromYaml)) {
  problems.push(`${jsonName} holds the same document as ${yamlName} but is not exactly its conversion `
    + '(formatting); regenerate it with: node scripts/openapi-json.mjs');
}
if (fromYaml !== undefined && problems.length === 0) problems.push(...deeperProblems(fromYaml));

/**
 * What a schema validator of OpenAPI cannot see: every schema compiles under
 * ajv's strict JSON Schema 2020-12 mode (a misspelt keyword such as
 * "requried" would otherwise accept everything); the operations are exactly
 * the routes of resources/routes.c; every error answer is problem+json only;
 * an operation taking a body declares 400, 413 and 415; one on an existing
 * {space} declares 400 and 404.
 */
function deeperProblems(doc) {
  const out = [];
  const ajv = new Ajv2020({ strict: true, strictTypes: false, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  const urn = 'urn:m31:schema:';
  const rewrite = (v) => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!v || typeof v !== 'object') return v;
    const o = {};
    for (const [k, x] of Object.entries(v)) {
      o[k] = k === '$ref' && typeof x === 'string' && x.startsWith('#/components/schemas/')
        ? urn + x.slice('#/components/schemas/'.length) : rewrite(x);
    }
    return o;
  };
  const compile = (where, schema) => {
    try { ajv.compile(rewrite(schema)); } catch (e) { out.push(`${where}: ${e.message}`); }
  };
  const deref = (o) => {
    for (let i = 0; o && o.$ref && i < 10; i++) {
      o = o.$ref.slice(2).split('/').reduce((x, k) => x?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
    }
    return o;
  };
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) {
    ajv.addSchema({ ...rewrite(s), $id: urn + name });
  }
  for (const name of Object.keys(doc.components?.schemas ?? {})) {
    try { ajv.getSchema(urn + name); } catch (e) { out.push(`components/schemas/${name}: ${e.message}`); }
  }
  const routesSrc = readFileSync(join(REPO, 'resources/routes.c'), 'utf8');
  const routes = new Set([...routesSrc.matchAll(/\{\s*"([A-Z]+)",\s*"([^"]+)",/g)].map((m) => `${m[1]} ${m[2]}`));
  if (routes.size === 0) out.push('found no routes in resources/routes.c');
  const ops = new Set();
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const method of ['get', 'put', 'post', 'patch', 'delete', 'head', 'options', 'trace']) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      ops.add(where);
      for (const [media, mt] of Object.entries(deref(op.requestBody)?.content ?? {})) {
        if (mt.schema) compile(`${where} request ${media}`, mt.schema);
      }
      const responses = op.responses ?? {};
      for (const [status, r0] of Object.entries(responses)) {
        const r = deref(r0);
        for (const [media, mt] of Object.entries(r.content ?? {})) {
          if (mt.schema) compile(`${where} ${status} ${media}`, mt.schema);
        }
        for (const [h, hd] of Object.entries(r.headers ?? {})) {
          const sch = deref(hd)?.schema;
          if (sch) compile(`${where} ${status} header ${h}`, sch);
        }
        const media = Object.keys(r.content ?? {});
        if (/^[45]/.test(status) && (media.length !== 1 || media[0] !== 'application/problem+json')) {
          out.push(`${where} ${status}: an error answer must be application/problem+json only (has ${media.join(', ') || 'none'})`);
        }
      }
      const need = [];
      if (op.requestBody) need.push('400', '413', '415');
      if (path.includes('{space}') && where !== 'PUT /fs/{space}') need.push('400', '404');
      for (const s of new Set(need)) if (!responses[s]) out.push(`${where}: declares no ${s} answer`);
    }
  }
  for (const r of routes) if (!ops.has(r)) out.push(`route ${r} (resources/routes.c) is not in the contract`);
  for (const o of ops) if (!routes.has(o)) out.push(`operation ${o} is in the contract but not a route of resources/routes.c`);
  return out;
}

if (problems.length > 0) {
  console.error(`openapi-check: FAILED\n  - ${problems.join('\n  - ')}`);
  process.exit(1);
}
const ops = Object.values(fromYaml.paths || {})
  .reduce((n, item) => n + ['get', 'put', 'post', 'patch', 'delete', 'head', 'options']
    .filter((m) => item[m]).length, 0);
const exact = '';
console.log(`openapi-check: ok — ${yamlName} is valid OpenAPI ${fromYaml.openapi} (${ops} operations) and ${jsonName} matches it${exact}`);

/** A JSON pointer to the first place two values differ. */
function firstDifference(a, b, path = '') {
  if (isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      if (!(k in a)) return `${path}/${k} (only in the JSON)`;
      if (!(k in b)) return `${path}/${k} (only in the YAML)`;
      const d = firstDifference(a[k], b[k], `${path}/${String(k).replace(/~/g, '~0').replace(/\//g, '~1')}`);
      if (d) return d;
    }
  }
  return path || '/';
}
