// fibrils.mjs — spawning a fibril over HTTP and waiting for its end, for
// the e2e files that run Ruby.
import assert from 'node:assert/strict';
import { sleep, status } from './node.mjs';

/** The states a fibril ends in. */
export const FINAL = new Set(['done', 'failed', 'killed']);

/**
 * POSTs body to /fibrils with api (a contract client) and polls the
 * fibril until it ends (at most ms): its record.
 */
export async function runFibril(api, body, ms = 30_000) {
  const r = await api.req('POST', '/fibrils', { json: body });
  status(r, 201);
  const end = Date.now() + ms;
  for (;;) {
    const g = await api.req('GET', `/fibrils/${r.body.id}`);
    status(g, 200);
    if (FINAL.has(g.body.state)) return g.body;
    assert.ok(Date.now() < end, `fibril still ${g.body.state}`);
    await sleep(30);
  }
}

/** The result of a fibril that must have ended done. */
export function done(f) {
  assert.equal(f.state, 'done', JSON.stringify(f.error));
  return f.result;
}
