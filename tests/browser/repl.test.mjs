// The REPL pane over POST /repl and POST /repl/{id}: results, multi-line
// input that is incomplete until its `end`, output, JSON trees, errors with
// their line marked, and the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, shot, textMatches, useConsole } from './lib.mjs';

const ctx = useConsole();
let w;
let page;
let input;

const last = () => page.locator('#repl-transcript .entry').last();

async function enter(code) {
  const before = await page.locator('#repl-transcript .entry').count();
  await input.fill(code);
  await input.press('Enter');
  await page.waitForFunction((n) => document.querySelectorAll('#repl-transcript .entry').length > n, before);
}

test('1 + 41 answers 42', async () => {
  w = await ctx.open('#/repl');
  page = w.page;
  input = page.locator('#repl-input');
  await input.focus();
  await input.pressSequentially('1 + 41');
  await input.press('Enter');
  await textMatches(last().locator('.res'), /^=> 42$/);
  assert.equal(await input.inputValue(), '', 'the editor is emptied after a result');
  await textMatches(page.locator('#repl-session'), /^session \S+/);
});

test('a def typed over several lines is incomplete until its end, then callable', async () => {
  await input.pressSequentially('def sq(x)');
  await input.press('Enter');
  await textMatches(page.locator('#repl-hint'), /incomplete/);
  assert.equal(await input.inputValue(), 'def sq(x)\n  ', 'kept, with a new indented line');
  await input.pressSequentially('x * x');
  await input.press('Enter');
  await textMatches(page.locator('#repl-hint'), /incomplete/);
  await input.pressSequentially('end');
  await input.press('Enter');
  await textMatches(last().locator('.res'), /^=> :sq$/);
  assert.equal(await last().locator('pre.in').innerText(), ' 1def sq(x)\n 2  x * x\n 3end');
  await input.pressSequentially('sq(7)');
  await input.press('Enter');
  await textMatches(last().locator('.res'), /^=> 49$/);
});

test('Shift+Enter makes a new line; output shows above the result; values are trees', async () => {
  await input.pressSequentially('a = 20');
  await input.press('Shift+Enter');
  await input.pressSequentially('a + 22');
  await input.press('Enter');
  await textMatches(last().locator('.res'), /^=> 42$/);
  await enter('puts "hello"\n{name: "pi", digits: [3, 1, 4], nested: {ok: true, none: nil}}');
  await textMatches(last().locator('pre.out'), /^hello\n?$/);
  await textMatches(last().locator('.res'), /^=> \{:name=>"pi"/);
  const tree = last().locator('.jt');
  await textMatches(tree, /"digits"/);
  // Collapsible: closing the top level hides its keys.
  const top = tree.locator('details').first();
  await top.locator('> summary').click();
  assert.equal(await top.evaluate((d) => d.open), false);
  await top.locator('> summary').click();
  assert.equal(await top.evaluate((d) => d.open), true);
});

test('an error shows its class, message and line, and the line is marked in the editor', async () => {
  await enter('x = 1\nraise ArgumentError, "bad input"');
  await textMatches(last().locator('.err'), /^ArgumentError: bad input \(line 2\)$/);
  assert.equal(await input.inputValue(), 'x = 1\nraise ArgumentError, "bad input"', 'the code stays to be fixed');
  assert.equal(await page.locator('#repl-mark').isVisible(), true);
  assert.equal(await page.locator('#repl-gutter .err').innerText(), '2');
  assert.equal(await last().locator('pre.in .err-line').innerText(), ' 2raise ArgumentError, "bad input"');
  await shot(page, 'repl');
  await input.fill('');
  await enter('1 +\n)');
  await textMatches(last().locator('.err'), /^SyntaxError: .*\(line 2\)$/);
  await input.fill('');
});

test('Up and Down walk the history, kept in localStorage', async () => {
  await input.focus();
  await input.press('ArrowUp');
  assert.equal(await input.inputValue(), '1 +\n)');
  await input.press('ArrowUp'); // the caret is on the first line: one more back
  assert.equal(await input.inputValue(), 'x = 1\nraise ArgumentError, "bad input"');
  await input.press('ArrowDown'); // the caret went to the end of line 1: first down moves within
  await input.press('ArrowDown');
  assert.equal(await input.inputValue(), '1 +\n)');
  await input.press('End');
  await input.press('ArrowDown');
  assert.equal(await input.inputValue(), '', 'back to the (empty) draft');
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('m31.repl.history')));
  assert.ok(stored.includes('1 + 41') && stored.includes('sq(7)'), JSON.stringify(stored));
});

test('a runaway loop is stopped with Esc (its fibril is killed), and the session goes on', async () => {
  await input.fill('loop {}');
  await input.press('Enter');
  await textMatches(page.locator('#repl-run'), /^Stop$/);
  await page.waitForTimeout(300);
  await input.press('Escape');
  await textMatches(last().locator('.err'), /^Killed: killed by DELETE$/, { timeout: 10_000 });
  await textMatches(page.locator('#repl-run'), /^Run$/);
  await input.fill('sq(5)');
  await input.press('Enter');
  await textMatches(last().locator('.res'), /^=> 25$/);
  assertClean(w);
});
