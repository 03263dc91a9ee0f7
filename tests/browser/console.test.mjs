// The console loads with no console error, every pane opens, and no
// request leaves 127.0.0.1 (its headers: tests/http/web.test.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, shot, useConsole, watchPage } from './lib.mjs';

const ctx = useConsole();

test('the page loads and every pane opens with no console error and no request off 127.0.0.1', async () => {
  const w = await ctx.open();
  const { page } = w;
  assert.match(await page.title(), /M31/);
  assert.match(await page.locator('#node-info').innerText(), /^node \S+ · v\d/);
  await shot(page, 'console');
  // Alt+1..4 switch panes; every pane draws without an error.
  for (const [key, pane] of [['Alt+2', 'fs'], ['Alt+3', 'fibrils'], ['Alt+4', 'channels'], ['Alt+1', 'repl']]) {
    await page.keyboard.press(key);
    await page.locator(`#pane-${pane}`).waitFor({ state: 'visible' });
    assert.equal(await page.locator(`.nav a[data-pane="${pane}"]`).getAttribute('aria-current'), 'page');
    await page.waitForTimeout(400);
  }
  await page.waitForLoadState('networkidle').catch(() => {});
  assert.ok(w.requests.length >= 5, `requests seen: ${w.requests.join(', ')}`);
  assertClean(w);
});

test('the Content-Security-Policy stops a fetch to another host (and the route guard sees none)', async () => {
  const w = await watchPage(ctx.browser, ctx.node.base);
  ctx.pages.push(w);
  await w.page.goto(`${ctx.node.base}/`);
  const outcome = await w.page.evaluate(async () => {
    let violated = '';
    document.addEventListener('securitypolicyviolation', (e) => { violated = e.violatedDirective; });
    try {
      await fetch('http://192.0.2.1/');
      return 'fetched';
    } catch (e) {
      await new Promise((r) => setTimeout(r, 100));
      return `refused:${violated}`;
    }
  });
  assert.equal(outcome, 'refused:connect-src');
  assert.deepEqual(w.blocked, [], 'the refused request never reached the network');
  assert.deepEqual(w.pageErrors, []);
});
