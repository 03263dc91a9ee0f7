// The Fibrils pane: spawn from the form and watch the fibril reach done,
// see a tree of parent and children, and kill a runaway with the button.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, shot, textMatches, useConsole } from './lib.mjs';

const ctx = useConsole();
let w;
let page;

async function spawn({ code, fn = '', args = '', cpu = '1000' }) {
  const f = page.locator('#fib-form');
  await f.locator('[name=code]').fill(code);
  await f.locator('[name=fn]').fill(fn);
  await f.locator('[name=args]').fill(args);
  await f.locator('[name=cpu_ms]').fill(cpu);
  await f.locator('button.primary').click();
  const ok = await textMatches(f.locator('.ok'), /^spawned \S+$/);
  return ok.replace(/^spawned /, '');
}

const row = (id) => page.locator(`#fib-tree li[data-id="${id}"] > .fib-row`);

test('a fibril spawned from the form reaches done with its result', async () => {
  w = await ctx.open('#/fibrils');
  page = w.page;
  await textMatches(page.locator('#fib-live'), /live|polling/);
  const id = await spawn({ code: 'def main(a, b)\n  a * b\nend', fn: 'main', args: '[6, 7]' });
  await textMatches(row(id).locator('.state'), /^done$/);
  await textMatches(row(id).locator('.outcome'), /^=> 42$/);
  await textMatches(page.locator('#fib-detail'), /"result": 42/);
});

test('children show under their parent', async () => {
  const code = [
    'def child(n)', '  PARENT.send(n * n)', '  sys.SUCCESS', 'end',
    'def main(k)', '  cs = (1..k).map { |i| sys.spawn(:child, [i]) }',
    '  squares = cs.map { |c| c.recv }', '  [sys.collect(cs), squares]', 'end'].join('\n');
  const id = await spawn({ code, fn: 'main', args: '[3]' });
  await textMatches(row(id).locator('.outcome'), /^=> \["success",\[1,4,9\]\]$/);
  const kids = page.locator(`#fib-tree li[data-id="${id}"] > ul > li`);
  await textMatches(kids.last().locator('.state'), /^done$/);
  assert.equal(await kids.count(), 3);
});

test('a runaway loop is killed with its Kill button', async () => {
  const id = await spawn({ code: 'loop {}', cpu: '300000' });
  await textMatches(row(id).locator('.state'), /^running$/);
  await shot(page, 'fibrils');
  await row(id).getByRole('button', { name: 'Kill' }).click();
  await textMatches(row(id).locator('.state'), /^killed$/);
  await textMatches(row(id).locator('.outcome'), /killed by DELETE/);
  assert.equal(await row(id).getByRole('button', { name: 'Kill' }).isVisible(), false);
  const rec = await (await fetch(`${ctx.node.base}/fibrils/${id}`)).json();
  assert.equal(rec.state, 'killed');
});

test('the state filter narrows the list; the pane used the watch stream', async () => {
  await page.locator('#fib-filter').selectOption('killed');
  const visible = await page.locator('#fib-tree li[data-id]:visible').count();
  assert.equal(visible, 1);
  await page.locator('#fib-filter').selectOption('');
  await textMatches(page.locator('#fib-live'), /live/); // GET /fibrils?watch
  assertClean(w);
});
