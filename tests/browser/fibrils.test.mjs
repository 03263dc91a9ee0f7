// The Fibrils pane: spawn from the form and watch the fibril reach done,
// see a tree of parent and children, and kill a runaway with the button.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, eventually, shot, textMatches, useConsole } from './lib.mjs';

const ctx = useConsole();
let w;
let page;

async function spawn({ code, fn = '', args = '', cpu = '1000' }) {
  const f = page.locator('#fib-form');
  await f.locator('[name=code]').fill(code);
  await f.locator('[name=fn]').fill(fn);
  await f.locator('[name=args]').fill(args);
  await f.locator('[name=cpu_ms]').fill(cpu);
  const before = await f.locator('.ok').textContent();
  await f.locator('button.primary').click();
  const ok = await eventually(async () => {
    const t = await textMatches(f.locator('.ok'), /^spawned \S+$/);
    assert.notEqual(t, before);
    return t;
  });
  return ok.replace(/^spawned /, '');
}

const row = (id) => page.locator(`#fib-tree li[data-id="${id}"] > .fib-row`);

test('a fibril spawned from the form reaches done with its result', async () => {
  w = await ctx.open('#/fibrils');
  page = w.page;
  await textMatches(page.locator('#fib-live'), /live|polling/);
  const id = await spawn({ code: 'def main(a, b)\n  a * b\nend', fn: 'main', args: '[6, 7]' });
  await textMatches(row(id).locator('.state'), /^done$/i);
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
  await textMatches(kids.last().locator('.state'), /^done$/i);
  assert.equal(await kids.count(), 3);
});

test('a runaway loop is killed with its Kill button', async () => {
  const id = await spawn({ code: 'loop {}', cpu: '300000' });
  await textMatches(row(id).locator('.state'), /^running$/i);
  await shot(page, 'fibrils');
  await row(id).getByRole('button', { name: 'Kill' }).click();
  await textMatches(row(id).locator('.state'), /^killed$/i);
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

test('without the watch stream the pane polls GET /fibrils and still follows a fibril', async () => {
  const w2 = await ctx.open();
  const p2 = w2.page;
  await p2.route((url) => url.pathname === '/fibrils' && url.searchParams.has('watch'), (r) => r.abort('failed'));
  await p2.goto(`${ctx.node.base}/#/fibrils`);
  await textMatches(p2.locator('#fib-live'), /polling/);
  const f = p2.locator('#fib-form');
  await f.locator('[name=code]').fill('def main(n)\n  (1..n).reduce(0) { |a, b| a + b }\nend');
  await f.locator('[name=fn]').fill('main');
  await f.locator('[name=args]').fill('[100]');
  await f.locator('button.primary').click();
  const id = (await textMatches(f.locator('.ok'), /^spawned \S+$/)).replace(/^spawned /, '');
  await textMatches(p2.locator(`#fib-tree li[data-id="${id}"] > .fib-row .outcome`), /^=> 5050$/);
  assert.deepEqual(w2.pageErrors, []);
});
