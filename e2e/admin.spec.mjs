// End-to-end test of the admin page in headless Chromium (Debian's /usr/bin/chromium),
// driven with playwright-core. Started by tests/browser.rs, which runs `lore serve`, creates
// the knowledge base and its admin key, and serves the test website whose answers this
// script switches through its control URL.
//
// Environment: LORE_URL, LORE_KB, LORE_ADMIN_KEY, LORE_SITE, LORE_SAMPLES,
// LORE_E2E_ARTIFACTS (screenshots), LORE_CHROMIUM (default /usr/bin/chromium).

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createRequire } from 'node:module';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const BASE = env('LORE_URL').replace(/\/$/, '');
const KB = env('LORE_KB');
const KEY = env('LORE_ADMIN_KEY');
const SITE = env('LORE_SITE').replace(/\/$/, '');
const SAMPLES = env('LORE_SAMPLES');
const ART = env('LORE_E2E_ARTIFACTS');
const CHROMIUM = env('LORE_CHROMIUM', '/usr/bin/chromium');
const SITE_URL = `${SITE}/club/`;
mkdirSync(ART, { recursive: true });

const t0 = Date.now();
const log = (...a) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

class Failure extends Error {}
function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

// axe-core, the accessibility rules engine, is evaluated in the page through the DevTools
// protocol (the page's own Content-Security-Policy would refuse an injected script tag).
const AXE = readFileSync(join(dirname(createRequire(import.meta.url).resolve('axe-core')), 'axe.min.js'), 'utf8');

/** Runs axe-core on the page as it is; serious and critical violations fail the test. */
async function a11y(screen) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
  }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result.violations) {
    log(`axe (${screen}): ${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
  }
  check(bad.length === 0, `accessibility violations on ${screen}: ${bad.map((v) => v.id).join(', ')}`);
}

/** Polls `fn` until it returns a truthy value; fails naming `what` and the last value seen. */
async function until(what, fn, timeout = 30000) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      if (e instanceof Failure) throw e;
      last = e.message;
    }
    if (Date.now() > end) throw new Failure(`timed out after ${timeout} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function siteMode(mode) {
  const r = await fetch(`${SITE}/_control/${mode}`, { method: 'POST' });
  check(r.ok, `the test site refused mode ${mode}: ${r.status}`);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
const page = await context.newPage();
page.setDefaultTimeout(15000);

// Every request the page makes must go to the lore server itself.
const foreign = [];
const pageErrors = [];
page.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(`${BASE}/`) && !u.startsWith('data:') && !u.startsWith('blob:')) foreign.push(u);
});
page.on('pageerror', (e) => pageErrors.push(String(e)));
// File choosers are intercepted from the start: subscribing only when a step waits for one
// races the key press that opens it (Chromium may open the native dialog before interception is on).
const choosers = [];
page.on('filechooser', (c) => choosers.push(c));
page.on('console', (m) => {
  if (m.type() === 'error') log('console error:', m.text());
});

/** A screenshot (of the page, or of one element), without the transient status toast. */
async function shot(name, { element = null, fullPage = true } = {}) {
  await page.evaluate(() => { document.querySelector('#status').style.visibility = 'hidden'; });
  const path = join(ART, `${name}.png`);
  if (element) await page.locator(element).screenshot({ path });
  else await page.screenshot({ path, fullPage });
  await page.evaluate(() => { document.querySelector('#status').style.visibility = ''; });
}
const row = (name) => page.locator(`#sources-body tr[data-name="${name}"]`);
const rowOfKind = (kind) => page.locator(`#sources-body tr[data-kind="${kind}"]`).first();
const statusOf = async (r) => (await r.count()) ? r.getAttribute('data-status') : null;

/** Asks a question in the test tab and returns what the results show. */
async function ask(question, { mode = '', agent = '', kind = '', inStock = false } = {}) {
  await page.getByRole('tab', { name: 'Test retrieval' }).click();
  await page.getByLabel('Question').fill(question);
  await page.getByLabel('As agent').selectOption(agent ? { label: agent } : { value: '' });
  await page.getByLabel('Source kind').selectOption(kind);
  await page.getByLabel('Products in stock only').setChecked(inStock);
  await page.getByRole('radio', { name: { '': 'Best available', hybrid: 'Hybrid', text: 'Full text', vector: 'Vector' }[mode] }).check();
  const seq = Number((await page.locator('#results').getAttribute('data-seq')) || 0);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await until(`the results of "${question}"`, async () => {
    if (await page.locator('#alert').isVisible()) throw new Failure(`the search failed: ${await page.locator('#alert').textContent()}`);
    return Number((await page.locator('#results').getAttribute('data-seq')) || 0) > seq;
  });
  const hits = await page.locator('#hits li.hit').evaluateAll((lis) => lis.map((li) => ({
    source: li.dataset.source,
    version: li.dataset.version,
    text: li.querySelector('.passage').textContent,
    product: Object.fromEntries([...li.querySelectorAll('.product > div')].map((d) => [d.querySelector('dt').textContent, d.querySelector('dd').textContent])),
    cite: li.querySelector('.cite').textContent,
    marks: [...li.querySelectorAll('mark')].map((m) => m.textContent),
  })));
  const nothing = (await page.locator('#results').getAttribute('data-nothing-relevant')) === 'true';
  const summary = await page.locator('#results-summary').textContent();
  log(`asked "${question}" (${mode || 'best mode'}${agent ? `, agent ${agent}` : ''}): ${nothing ? 'nothing relevant' : `${hits.length} hits, first ${hits[0]?.cite}`}`);
  return { hits, nothing, summary };
}

async function step(name, fn) {
  const s = Date.now();
  await fn();
  log(`ok: ${name} (${Date.now() - s} ms)`);
}

let failed = false;
try {
  await step('the page loads with no request outside the server', async () => {
    await page.goto(`${BASE}/`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    check(await page.title() === 'lore · knowledge sources', `title: ${await page.title()}`);
    await shot('01-login');
    await a11y('login');
  });

  await step('a wrong key is refused, the right one logs in', async () => {
    await page.getByLabel('Knowledge base').fill(KB);
    await page.getByLabel('Admin key').fill('not-the-key');
    await page.getByRole('button', { name: 'Log in' }).click();
    const err = page.locator('#login-error');
    await err.waitFor({ state: 'visible' });
    check(/do not match/.test(await err.textContent()), `login error: ${await err.textContent()}`);
    check(await page.locator('#app').isHidden(), 'the app shows after a wrong key');
    await page.getByLabel('Admin key').fill(KEY);
    await page.getByLabel('Admin key').press('Enter');
    await page.getByRole('tab', { name: 'Sources' }).waitFor();
    check(await page.locator('#session-kb').textContent() === KB, 'the header names the knowledge base');
    const stored = await page.evaluate(() => [sessionStorage.getItem('lore.key'), localStorage.length]);
    check(stored[0] === KEY && stored[1] === 0, 'the key is kept in sessionStorage only');
    await until('the empty-list note', () => page.locator('#sources-empty').isVisible());
  });

  await step('a reload keeps the session', async () => {
    await page.reload();
    await page.getByRole('tab', { name: 'Sources' }).waitFor();
    check(await page.locator('#login-view').isHidden(), 'login shown again after reload');
  });

  const pdf = 'brewing-guide.pdf';
  const xlsx = 'price-list.xlsx';
  await step('a PDF and a spreadsheet dropped together upload with progress and become ready', async () => {
    const files = [
      { name: pdf, type: 'application/pdf', b64: readFileSync(join(SAMPLES, pdf)).toString('base64') },
      { name: xlsx, type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', b64: readFileSync(join(SAMPLES, xlsx)).toString('base64') },
    ];
    const dt = await page.evaluateHandle((list) => {
      const d = new DataTransfer();
      for (const f of list) {
        const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
        d.items.add(new File([bytes], f.name, { type: f.type }));
      }
      return d;
    }, files);
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer: dt });
    for (const f of [pdf, xlsx]) {
      const li = page.locator(`#uploads li[data-file="${f}"]`);
      await until(`the upload of ${f} to finish`, async () => (await li.getAttribute('data-state')) === 'done');
      check(await li.locator('progress').evaluate((p) => p.value === 100), `${f}: progress not at 100%`);
    }
    // Both appear; they are processing or already ready, and then ready with chunks.
    for (const f of [pdf, xlsx]) {
      await until(`${f} to be ready`, async () => (await statusOf(row(f))) === 'ready', 60000);
      const chunks = Number((await row(f).locator('td[data-label=Chunks]').textContent()).replace(/\D/g, ''));
      check(chunks > 0, `${f} has no chunks`);
      check((await row(f).locator('td[data-label="Active version"]').textContent()) === 'v1', `${f} active version`);
      check((await row(f).locator('td[data-label=Kind]').textContent()) === 'File', `${f} kind`);
    }
  });

  await step('a file lore cannot read shows failed with its reason', async () => {
    // A zip archive that is no office document: lore names it unsupported, never an empty source.
    await page.locator('#file-input').setInputFiles({
      name: 'photos.zip', mimeType: 'application/zip',
      buffer: Buffer.from('504b0506000000000000000000000000000000000000', 'hex'),
    });
    await until('photos.zip to fail', async () => (await statusOf(row('photos.zip'))) === 'failed', 60000);
    const reason = await row('photos.zip').locator('.reason').textContent();
    check(/unsupported-format|corrupted|empty|binary/.test(reason), `failed reason: ${reason}`);
    check((await row('photos.zip').locator('td[data-label="Active version"]').textContent()) === '—', 'a failed source has no active version');
    await page.getByRole('button', { name: 'Remove photos.zip' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove' }).click();
    await until('photos.zip to go', async () => (await row('photos.zip').count()) === 0);
  });

  await step('a product catalog and a text entry are added', async () => {
    await page.locator('#add-catalog summary').click();
    await page.getByLabel('Catalog file').setInputFiles(join(SAMPLES, 'catalog', 'products.csv'));
    await page.getByRole('button', { name: 'Upload catalog' }).click();
    await until('the catalog to be ready', async () => (await statusOf(rowOfKind('catalog'))) === 'ready', 60000);
    await page.locator('#add-text summary').click();
    await page.getByLabel('Title').fill('Opening hours');
    await page.getByLabel('Text', { exact: true }).fill('Our Miami tasting bar opens Tuesday to Sunday, from 8 am to 6 pm. It is closed on Mondays.');
    await page.getByRole('button', { name: 'Add text' }).click();
    await until('the text to be ready', async () => (await statusOf(row('Opening hours'))) === 'ready', 60000);
    await page.locator('#add-catalog summary').click();
    await page.locator('#add-text summary').click();
  });

  let site = '';
  await step('a website with child pages is added from the local test server and becomes ready', async () => {
    await siteMode('v1');
    await page.locator('#add-url summary').click();
    await page.getByLabel('Page address').fill(SITE_URL);
    await page.getByLabel('Include child pages (same site, same path)').check();
    await page.getByLabel('Max pages').fill('10');
    await page.getByLabel('Max depth').fill('2');
    // The site answers slowly for a while, so the page has time to show the work in progress.
    await siteMode('slow');
    await page.getByRole('button', { name: 'Add website' }).click();
    await until('the website to show as processing with a progress bar', async () => (await statusOf(rowOfKind('url'))) === 'processing'
      && (await rowOfKind('url').locator('progress').count()) === 1);
    log(`while processing: ${(await rowOfKind('url').locator('.status-cell').textContent()).trim()}`);
    await shot('02a-sources-processing');
    await siteMode('fast');
    await until('the website to be ready', async () => (await statusOf(rowOfKind('url'))) === 'ready', 60000);
    check((await rowOfKind('url').locator('progress').count()) === 0, 'a progress bar is left on a ready source');
    site = await rowOfKind('url').getAttribute('data-name');
    log(`website source: ${site}`);
    await page.locator('#add-url summary').click();
    await shot('02-sources');
  });

  await step('test questions cite the PDF, the spreadsheet and the website', async () => {
    const a = await ask('How do I descale the kettle with citric acid?');
    check(!a.nothing && a.hits.length > 0, `kettle question found nothing: ${a.summary}`);
    check(a.hits[0].source === pdf, `kettle question: first hit from ${a.hits[0].source}`);
    check(/page/.test(a.hits[0].cite), `the PDF citation names a page: ${a.hits[0].cite}`);
    check(a.hits[0].marks.some((m) => /descal|citric/i.test(m)), `no highlighted term: ${a.hits[0].marks}`);

    const b = await ask('Boquete Geisha price', { mode: 'text' });
    check(b.hits.some((x) => x.source === xlsx && /Coffee/.test(x.cite)), `no price-list hit citing its sheet: ${JSON.stringify(b.hits.map((x) => x.cite))}`);

    const c = await ask('How many loyalty stamps for a free espresso?');
    check(c.hits.length > 0 && c.hits[0].source === site, `loyalty question: first hit from ${c.hits[0]?.source}`);
    check(c.hits[0].version === '1' && /nine stamps/.test(c.hits[0].text), `loyalty v1 text: ${c.hits[0].text}`);
    check(c.hits[0].cite.includes(SITE), `the website citation names the page URL: ${c.hits[0].cite}`);
    check(/mode hybrid/.test(c.summary), `with an embedder the best mode is hybrid: ${c.summary}`);
    for (const mode of ['hybrid', 'text', 'vector']) {
      const m = await ask('How many loyalty stamps for a free espresso?', { mode });
      check(m.summary.includes(`mode ${mode}`), `${mode}: the answer names another mode: ${m.summary}`);
      check(m.hits.slice(0, 3).some((x) => x.source === site), `${mode}: the website is not in the top 3: ${JSON.stringify(m.hits.map((x) => x.source))}`);
      check(m.hits.every((x, i) => i === 0 || Number(x.cite.match(/score ([\d.]+)/)[1]) <= Number(m.hits[i - 1].cite.match(/score ([\d.]+)/)[1])), `${mode}: hits not ranked by score`);
    }
    await ask('How many loyalty stamps for a free espresso?');
    await shot('03-test-retrieval');
    await a11y('test retrieval');
  });

  await step('filters: catalog only, products in stock only; product fields shown', async () => {
    const a = await ask('Boquete Geisha coffee', { kind: 'catalog', mode: 'text' });
    check(a.hits.length > 0 && a.hits.every((x) => x.source === 'products.csv'), `catalog filter: ${JSON.stringify(a.hits.map((x) => x.source))}`);
    check(a.hits[0].product.name === 'Boquete Geisha' && a.hits[0].product.stock === '0', `product fields: ${JSON.stringify(a.hits[0].product)}`);
    const b = await ask('Boquete Geisha coffee', { kind: 'catalog', mode: 'text', inStock: true });
    check(!b.hits.some((x) => x.product.name === 'Boquete Geisha'), 'an out-of-stock product passed the in-stock filter');
    await page.getByLabel('Source kind').selectOption('');
    await page.getByLabel('Products in stock only').setChecked(false);
  });

  await step('keyboard: Enter on the drop zone opens the file chooser', async () => {
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.locator('#dropzone').focus();
    check(await page.evaluate(() => document.activeElement?.id) === 'dropzone', 'the drop zone does not take focus');
    const before = choosers.length;
    await page.keyboard.press('Enter');
    await until('the file chooser', async () => choosers.length > before, 15000);
    check(choosers[choosers.length - 1].isMultiple(), 'the file chooser takes several files');
  });

  await step('the website breaks (404), the sync leaves it stale with the reason, still answering', async () => {
    await siteMode('404');
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Sync ${site}` }).click();
    await until('the website to turn stale', async () => (await statusOf(row(site))) === 'stale', 60000);
    const reason = await row(site).locator('.reason').textContent();
    check(/not-found/.test(reason), `stale reason: ${reason}`);
    check((await row(site).locator('td[data-label="Active version"]').textContent()) === 'v1', 'stale source lost its active version');
    await shot('02b-sources-stale');
    const c = await ask('How many loyalty stamps for a free espresso?');
    check(c.hits.length > 0 && c.hits[0].source === site && c.hits[0].version === '1', `after a failed sync the question should still cite ${site} v1: ${JSON.stringify(c.hits[0])}`);
  });

  await step('the detail shows the failed version with its error and the chunks with citations', async () => {
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Details of ${site}` }).click();
    await until('focus on the detail title', async () => (await page.evaluate(() => document.activeElement?.id)) === 'detail-title');
    const failedRow = page.locator('#versions-body tr[data-state=failed]');
    await failedRow.first().waitFor();
    check(/not-found/.test(await failedRow.first().textContent()), 'the failed version names not-found');
    await until('chunks of v1', async () => (await page.locator('#chunks li .cite').count()) > 0);
    check(/nine stamps/.test(await page.locator('#chunks').textContent()), 'v1 chunks show the v1 text');
    check((await page.locator('#chunks li .cite').first().textContent()).includes(SITE), 'chunk citation names the page URL');
    check((await page.locator('#detail-pages li').count()) >= 2, 'the website detail lists its pages');
    await page.locator('#detail-tags').fill('contacts');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await until('the tag in the table', async () => (await row(site).locator('.tag').allTextContents()).includes('contacts'));
    await shot('04-detail', { element: '#detail' });
    await a11y('sources with a detail');
  });

  await step('the website is fixed with new content; a sync makes a new version; revert goes back to v1', async () => {
    await siteMode('v2');
    await page.getByRole('button', { name: 'Sync now' }).click();
    await until('a new ready version', async () => (await page.locator('#versions-body tr[data-state=ready]').count()) >= 2, 60000);
    await until('the website to be ready again', async () => (await statusOf(row(site))) === 'ready', 30000);
    const active = await row(site).locator('td[data-label="Active version"]').textContent();
    check(active !== 'v1', `after a good sync the active version is still ${active}`);
    const c = await ask('How many loyalty stamps for a free espresso?');
    check(/twelve stamps/.test(c.hits[0]?.text ?? ''), `new version text: ${c.hits[0]?.text}`);

    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Revert to version 1 of ${site}` }).click();
    await until('v1 active again', async () => (await row(site).locator('td[data-label="Active version"]').textContent()) === 'v1');
    const d = await ask('How many loyalty stamps for a free espresso?');
    check(d.hits[0]?.version === '1' && /nine stamps/.test(d.hits[0].text), `after revert: ${JSON.stringify(d.hits[0])}`);
  });

  await step('a server error (500) also leaves the website stale, still answering from v1', async () => {
    await siteMode('500');
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Sync ${site}` }).click();
    await until('the website to turn stale again', async () => (await statusOf(row(site))) === 'stale', 90000);
    const reason = await row(site).locator('.reason').textContent();
    check(/server-error/.test(reason), `stale reason after a 500: ${reason}`);
    const c = await ask('How many loyalty stamps for a free espresso?');
    check(c.hits[0]?.source === site && c.hits[0].version === '1' && /nine stamps/.test(c.hits[0].text), `after a 500: ${JSON.stringify(c.hits[0])}`);
    await siteMode('v1');
  });

  await step('an agent sees only its linked sources', async () => {
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByLabel('New agent').fill('club-bot');
    await page.getByRole('button', { name: 'Create agent' }).click();
    await page.locator('#agents-list li[data-agent="club-bot"]').waitFor();
    // The detail of the website is still open: link it.
    await page.locator('#detail-agent-boxes').getByLabel('club-bot').check();
    await until('the agents column to name club-bot', async () => (await row(site).locator('td[data-label=Agents]').textContent()) === 'club-bot');
    const a = await ask('How do I descale the kettle with citric acid?', { agent: 'club-bot' });
    check(!a.hits.some((x) => x.source === pdf), `the agent got a passage of an unlinked source: ${JSON.stringify(a.hits.map((x) => x.source))}`);
    const b = await ask('How many loyalty stamps for a free espresso?', { agent: 'club-bot' });
    check(b.hits[0]?.source === site, 'the agent finds its linked website');
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.locator('#detail-agent-boxes').getByLabel('club-bot').uncheck();
    await until('the link to go', async () => (await row(site).locator('td[data-label=Agents]').textContent()) === '—');
  });

  await step('an agent is renamed, and deleted after a confirmation; its sources stay', async () => {
    const agents = page.locator('#agents-list');
    await page.getByRole('button', { name: 'Rename club-bot' }).click();
    await page.getByLabel('New name for club-bot').fill('loyalty-bot');
    await agents.getByRole('button', { name: 'Save' }).click();
    await agents.locator('li[data-agent="loyalty-bot"]').waitFor();
    check(await agents.locator('li[data-agent="club-bot"]').count() === 0, 'the old name is still listed');
    check(await page.locator('#q-agent option', { hasText: 'loyalty-bot' }).count() === 1, 'the search form does not offer the new name');
    await page.getByRole('button', { name: 'Delete loyalty-bot' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    check((await dlg.textContent()).includes('loyalty-bot'), 'the dialog names the agent');
    await dlg.getByRole('button', { name: 'Cancel' }).click();
    await dlg.waitFor({ state: 'hidden' });
    check(await agents.locator('li[data-agent="loyalty-bot"]').count() === 1, 'Cancel deleted the agent');
    await page.getByRole('button', { name: 'Delete loyalty-bot' }).click();
    await dlg.getByRole('button', { name: 'Delete' }).click();
    await until('the agent to go', async () => (await agents.locator('li[data-agent="loyalty-bot"]').count()) === 0);
    check(await row(site).count() === 1, 'deleting the agent removed its source');
  });

  await step('disable and enable', async () => {
    await page.getByRole('button', { name: `Disable ${pdf}` }).click();
    await until('the PDF to be disabled', async () => (await statusOf(row(pdf))) === 'disabled');
    const a = await ask('How do I descale the kettle with citric acid?');
    check(!a.hits.some((x) => x.source === pdf), 'a disabled source still answers');
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Enable ${pdf}` }).click();
    await until('the PDF to be ready again', async () => (await statusOf(row(pdf))) === 'ready');
  });

  await step('an off-topic question says nothing relevant and becomes a gap with its count', async () => {
    const q = 'Do you sell motorcycle insurance policies?';
    const a = await ask(q);
    check(a.nothing && a.hits.length === 0, `expected nothing relevant: ${a.summary}`);
    check(/Nothing relevant/.test(a.summary), 'the nothing-relevant message is shown');
    await ask(q);
    await page.getByRole('tab', { name: 'Gaps & usage' }).click();
    const gap = page.locator(`#gaps-body tr[data-query="${q}"]`);
    await gap.waitFor();
    const count = Number(await gap.locator('td[data-label="Times asked"]').textContent());
    check(count >= 2, `gap count ${count}`);
    await until('usage figures', async () => (await page.locator('#usage-quotas .meter-row').count()) > 0);
    const usage = await page.locator('#usage-quotas').textContent();
    check(/search/i.test(usage), `usage names searches: ${usage}`);
    await shot('05-gaps-usage');
    await a11y('gaps and usage');
  });

  await step('remove asks for confirmation; cancel keeps the source, confirm removes it', async () => {
    await page.getByRole('tab', { name: 'Sources' }).click();
    await page.getByRole('button', { name: `Remove ${xlsx}` }).click();
    const dlg = page.getByRole('dialog');
    await dlg.waitFor();
    check((await dlg.textContent()).includes(xlsx), 'the dialog names the source');
    await page.keyboard.press('Escape');
    await dlg.waitFor({ state: 'hidden' });
    check(await row(xlsx).count() === 1, 'Escape removed the source');
    await page.getByRole('button', { name: `Remove ${xlsx}` }).click();
    await dlg.getByRole('button', { name: 'Remove' }).click();
    await until('the spreadsheet to go', async () => (await row(xlsx).count()) === 0);
    const b = await ask('Boquete Geisha price', { mode: 'text' });
    check(!b.hits.some((x) => x.source === xlsx), 'a removed source still answers');
  });

  await step('keyboard: the tabs move with the arrow keys', async () => {
    await page.getByRole('tab', { name: 'Test retrieval' }).focus();
    await page.keyboard.press('ArrowRight');
    check(await page.getByRole('tab', { name: 'Gaps & usage' }).getAttribute('aria-selected') === 'true', 'ArrowRight');
    await page.keyboard.press('Home');
    check(await page.getByRole('tab', { name: 'Sources' }).getAttribute('aria-selected') === 'true', 'Home');
  });

  await step('every form field has a label', async () => {
    const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => el.type !== 'hidden' && !el.hidden)
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
      .map((el) => el.id || el.outerHTML.slice(0, 60)));
    check(unlabeled.length === 0, `fields without a label: ${unlabeled}`);
  });

  await step('phone width: no horizontal scrolling, the table turns into cards', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('tab', { name: 'Sources' }).click();
    const [sw, iw] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    check(sw <= iw, `the page is ${sw}px wide in a ${iw}px window`);
    check(await page.locator('#sources-table thead').evaluate((el) => el.getBoundingClientRect().height <= 1), 'table head still shown at phone width');
    await page.locator('#sources-title').scrollIntoViewIfNeeded();
    await shot('06-phone', { fullPage: false });
    await a11y('phone width');
    await page.setViewportSize({ width: 1360, height: 900 });
  });

  await step('no request left the server and no script error happened', async () => {
    check(foreign.length === 0, `requests outside the server: ${foreign.join(', ')}`);
    check(pageErrors.length === 0, `script errors: ${pageErrors.join(' | ')}`);
  });
} catch (e) {
  failed = true;
  console.error(`[e2e] FAILED: ${e instanceof Failure ? e.message : e.stack || e}`);
  try {
    await shot('failure');
    console.error(`[e2e] screenshot of the failure: ${join(ART, 'failure.png')}`);
  } catch { /* the page may be gone */ }
} finally {
  await browser.close();
}
log(failed ? 'failed' : 'all steps passed');
process.exit(failed ? 1 : 0);
