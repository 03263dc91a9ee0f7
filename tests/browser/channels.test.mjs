// The Channels pane: make a channel, listen on its receive end (an event
// stream) and see what is sent on its send end arrive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, shot, textMatches, useConsole } from './lib.mjs';

const ctx = useConsole();
let w;
let page;

test('a value sent on a channel shows up in the live receive stream', async () => {
  w = await ctx.open('#/channels');
  page = w.page;
  const f = page.locator('#ch-form');
  await f.locator('[name=type]').fill('Any');
  await f.locator('button.primary').click();
  await textMatches(page.locator('#ch-list tbody'), /Any/);
  const d = page.locator('#ch-detail');
  await d.locator('#ch-listen').click();
  await textMatches(d.locator('#ch-stream-state'), /listening/);
  const send = d.locator('#ch-send');
  await send.locator('[name=value]').fill('{"hello": "world", "n": [1, 2]}');
  await send.locator('button.primary').click();
  await textMatches(send.locator('.ok'), /^sent, seq 1$/);
  await textMatches(d.locator('#ch-log'), /#1[\s\S]*"hello": "world"/);
  await send.locator('[name=value]').fill('42');
  await send.locator('[name=value]').press('Control+Enter');
  await textMatches(d.locator('#ch-log'), /#2[\s\S]*42/);
  await shot(page, 'channels');
});

test('a bad value is refused with the problem shown; the stream stops on Stop', async () => {
  const d = page.locator('#ch-detail');
  const send = d.locator('#ch-send');
  await send.locator('[name=value]').fill('{not json');
  await send.locator('button.primary').click();
  await textMatches(send.locator('.error'), /not JSON/);
  await d.locator('#ch-listen').click();
  await textMatches(d.locator('#ch-stream-state'), /not listening/);
  // A second channel, never streamed: what is sent stays queued until a
  // receiver takes it. (A stopped stream holds on to the node's side until
  // its next heartbeats, and a message handed to it then is lost.)
  const f = page.locator('#ch-form');
  await f.locator('[name=type]').fill('String');
  await f.locator('button.primary').click();
  await textMatches(d.locator('.ch-info'), /String/);
  await send.locator('[name=value]').fill('"queued"');
  await send.locator('button.primary').click();
  await textMatches(send.locator('.ok'), /^sent, seq 1$/);
  await textMatches(page.locator('#ch-list tbody tr.selected'), /String\s+async\s+16\s+1\b/);
  await send.locator('[name=value]').fill('5');
  await send.locator('button.primary').click();
  await textMatches(send.locator('.error'), /Unprocessable Content \(422\).*\[value\]/);
  await d.getByRole('button', { name: 'Receive one' }).click();
  await textMatches(d.locator('#ch-log'), /#1[\s\S]*"queued"/);
  await d.getByRole('button', { name: 'Receive one' }).click();
  await textMatches(d.locator('#ch-log'), /nothing queued \(204\)/);
  assertClean(w, { console: false });
  assert.deepEqual(w.consoleErrors.filter((e) => !/status of 422/.test(e)), [],
    'only the refused send logs (its 422)');
});

test("a fibril's two channels open from a link: send to it, hear from it", async () => {
  const r = await fetch(`${ctx.node.base}/fibrils`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: 'def main\n  PARENT.send(PARENT.recv * 2)\nend', fn: 'main', args: [], budget: { cpu_ms: 5000 } }),
  });
  assert.equal(r.status, 201);
  const fib = await r.json();
  w.consoleErrors.length = 0; // the refused send above was checked already
  await page.goto(`${ctx.node.base}/#/fibrils`);
  await page.locator(`#fib-tree li[data-id="${fib.id}"] .link`).click();
  await page.getByRole('link', { name: 'send to it' }).click();
  const d = page.locator('#ch-detail');
  const send = d.locator('#ch-send');
  await textMatches(send.locator('select'), new RegExp(fib.channels.send));
  await send.locator('[name=value]').fill('21');
  await send.locator('button.primary').click();
  await textMatches(send.locator('.ok'), /^sent, seq 1$/);
  await page.goBack();
  await page.getByRole('link', { name: 'hear from it' }).click();
  await textMatches(d.locator('select[aria-label="receive end"]'), new RegExp(fib.channels.recv));
  await d.locator('#ch-listen').click();
  await textMatches(d.locator('#ch-log'), /#1\s+\S+\s+42/);
  // The fibril ended: its ends are deleted, the stream drains and closes.
  await textMatches(d.locator('#ch-log'), /the stream ended|refused/);
  assertClean(w);
});

