// The Namespace pane: make a space, put objects through the form, find
// them with the search box (which speaks GET /fs/{space}'s query
// parameters), look at one, delete one, and see changes made elsewhere
// arrive on the space's watch stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertClean, eventually, shot, textMatches, useConsole } from './lib.mjs';

const ctx = useConsole();
let w;
let page;

const keys = async () => page.locator('#fs-objects tbody tr[data-key]').evaluateAll((trs) => trs.map((t) => t.dataset.key));

async function put(key, attrs, labels) {
  const f = page.locator('#fs-object-form');
  await f.locator('[name=key]').fill(key);
  await f.locator('[name=attrs]').fill(JSON.stringify(attrs));
  await f.locator('[name=labels]').fill(JSON.stringify(labels));
  await f.locator('button.primary').click();
  await textMatches(f.locator('.ok'), new RegExp(`^(created|replaced) ${key}$`));
}

test('a space made with the form opens with its schema', async () => {
  w = await ctx.open('#/fs');
  page = w.page;
  await page.locator('#fs-new-space > summary').click();
  const f = page.locator('#fs-space-form');
  await f.locator('[name=name]').fill('words');
  await f.locator('[name=spec]').fill('{"key": "word", "attrs": {"freq": "Int", "len": "Int"}, "opts": {"versioning": true}}');
  await f.locator('button.primary').click();
  await textMatches(page.locator('#fs-space-name'), /^words$/);
  assert.match(page.url(), /#\/fs\/words$/);
  await textMatches(page.locator('#fs-schema'), /freq: Int/);
  await textMatches(page.locator('#fs-schema'), /versioning on/);
  await textMatches(page.locator('#fs-space-list'), /words/);
});

test('objects put with the form are listed, and the search box finds them', async () => {
  await put('pi', { freq: 3, len: 2 }, { lang: 'en' });
  await textMatches(page.locator('#fs-detail'), /pi/);
  await put('e', { freq: 1, len: 1 }, { lang: 'en' });
  await put('tau', { freq: 6, len: 3 }, { lang: 'de' });
  await put('phi', { freq: 4, len: 3 }, { lang: 'en' });
  await eventually(async () => assert.deepEqual((await keys()).sort(), ['e', 'phi', 'pi', 'tau']));

  await page.keyboard.press('Escape');
  await page.locator('#fs-objects').click(); // off any field, so "/" focuses the search box
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'fs-query');
  await page.keyboard.type('freq>=3&lang=en');
  await textMatches(page.locator('#fs-query-url'), /freq\.gte=3&label\.lang=en/);
  await page.keyboard.press('Enter');
  await eventually(async () => assert.deepEqual((await keys()).sort(), ['phi', 'pi']));
  await page.locator('#fs-query').fill('word^=p');
  await page.locator('#fs-query').press('Enter');
  // the key is not an attribute: read as a label, which no object has
  await eventually(async () => assert.deepEqual(await keys(), []));
  await page.locator('#fs-query').fill('len=3&freq<5');
  await page.locator('#fs-query').press('Enter');
  await eventually(async () => assert.deepEqual(await keys(), ['phi']));
  await page.locator('#fs-query').fill('freq>>3');
  await page.locator('#fs-query').press('Enter');
  await textMatches(page.locator('#fs-search .error'), /Bad Request \(400\)|Unprocessable/);
  await page.locator('#fs-search-clear').click();
  await eventually(async () => assert.equal((await keys()).length, 4));
});

test('an object shows its attrs, labels, versions and branches; delete removes it', async () => {
  await put('pi', { freq: 5, len: 2 }, { lang: 'en', seen: true });
  await page.locator('#fs-objects tr[data-key="pi"]').click();
  const d = page.locator('#fs-detail');
  await textMatches(d, /"freq": 5/);
  await textMatches(d, /"seen": true/);
  await textMatches(d.locator('.pills').first(), /v1\s*v2/);
  await d.getByRole('button', { name: 'v1', exact: true }).click();
  await textMatches(d, /version 1/);
  await textMatches(d, /"freq": 3/);
  await page.locator('main').evaluate((m) => { m.scrollTop = 0; });
  await shot(page, 'fs');
  await page.locator('#fs-objects tr[data-key="e"]').click();
  await textMatches(d, /^e/);
  const del = d.getByRole('button', { name: 'Delete', exact: true });
  await del.click();
  await d.getByRole('button', { name: 'Confirm delete' }).click();
  await eventually(async () => assert.deepEqual((await keys()).sort(), ['phi', 'pi', 'tau']));
});

test('a put made elsewhere shows up live (GET /fs/{space}?watch)', async () => {
  await textMatches(page.locator('#fs-live'), /live/);
  const r = await fetch(`${ctx.node.base}/fs/words/sigma`, {
    method: 'PUT', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ attrs: { freq: 9, len: 5 }, labels: {} }),
  });
  assert.equal(r.status, 201);
  await eventually(async () => assert.ok((await keys()).includes('sigma')));
  await fetch(`${ctx.node.base}/fs/words/tau`, { method: 'DELETE' });
  await eventually(async () => assert.ok(!(await keys()).includes('tau')));
  assertClean(w, { console: false });
  const errs = w.consoleErrors.filter((e) => !/status of 400/.test(e));
  assert.deepEqual(errs, [], 'only the bad search above may log (its 400)');
});
