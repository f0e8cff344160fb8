// The web console in a real browser (headless Chromium through playwright-core) against a real
// Depot server. Run through tests/console/run.sh, which starts the server, seeds model `iris`
// (v1 logistic regression, v2 random forest, both with metrics) and sets:
//   DEPOT_URL, ADMIN_TOKEN, READER_TOKEN, CHROMIUM, SCREENSHOTS (a directory, or empty for none).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { chromium } from 'playwright-core';

const base = process.env.DEPOT_URL;
const adminToken = process.env.ADMIN_TOKEN;
const readerToken = process.env.READER_TOKEN;
const shots = process.env.SCREENSHOTS || '';
assert.ok(base && adminToken && readerToken, 'run through tests/console/run.sh (DEPOT_URL, ADMIN_TOKEN, READER_TOKEN)');
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
const problems = []; // CSP violations and uncaught errors seen on any page

before(async () => {
  // Playwright gives every launch a fresh temporary profile (its own --user-data-dir).
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // A second model, so that searching has something to tell apart.
  await adminApi('POST', '/v1/models', { name: 'penguins', description: 'Penguin species', tags: ['tabular'] });
});

after(async () => {
  await browser?.close();
});

/** The API as the admin, with the bearer token (not the browser's cookie). */
async function adminApi(method, path, body, token = adminToken) {
  const res = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A fresh browser context (its own cookies), watched for CSP violations and script errors. */
async function newPage(viewport = LAPTOP) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`${page.url()}: ${e.message}`));
  return page;
}

/** Logs in through the console's form. */
async function logIn(token, viewport) {
  const page = await newPage(viewport);
  await page.goto(`${base}/console/`);
  await page.fill('#token', token);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#user .who');
  return page;
}

const go = (page, hash) => page.goto(`${base}/console/${hash}`);
const text = (page, selector) => page.locator(selector).innerText();
const modelRows = (page) => page.$$eval('#models tbody tr[data-model]', (rows) => rows.map((r) => r.dataset.model));
async function waitForModels(page, names) {
  await page.waitForFunction((want) =>
    [...document.querySelectorAll('#models tbody tr[data-model]')].map((r) => r.dataset.model).join(',') === want, names.join(','));
}
async function screenshot(page, name) {
  if (!shots) return;
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: `${shots}/${name}.png` });
}
/** The version the version-less route serves now, asked with the admin's bearer token. */
async function servedVersion() {
  const res = await adminApi('POST', '/v1/models/iris/predict', { inputs: { X: [[5.9, 3.0, 5.1, 1.8]] } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.version;
}
async function eventuallyServes(version) {
  let seen;
  for (let i = 0; i < 50; i++) {
    seen = await servedVersion();
    if (seen === version) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(seen, version, 'the prediction comes from the deployed version');
}

test('the console is served with a strict Content-Security-Policy', async () => {
  const res = await fetch(`${base}/console/`);
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy');
  assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'/);
  const html = await res.text();
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handler');
  const sizes = await Promise.all(['/console/', '/console/assets/app.js', '/console/assets/app.css']
    .map(async (p) => (await (await fetch(base + p)).arrayBuffer()).byteLength));
  const total = sizes.reduce((a, b) => a + b, 0);
  assert.ok(total < 100 * 1024, `index.html + app.js + app.css = ${total} bytes, under 100 KB`);
});

test('logging in: a wrong token shows the server\'s message, a good one the models', async () => {
  const page = await newPage();
  await page.goto(`${base}/console/#/models`);
  await page.fill('#token', 'depot_000000000000_not-a-token');
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#login .error:not(:empty)');
  assert.ok((await text(page, '#login .error')).length > 0);
  assert.equal(await page.locator('#models').count(), 0);

  await page.fill('#token', adminToken);
  await page.click('#login button[type=submit]');
  await page.waitForSelector('#models tbody tr[data-model="iris"]');
  assert.equal(await text(page, '#user .who'), 'admin');
  // The session is an HttpOnly cookie: the page's script cannot read the token.
  const visible = await page.evaluate(() => document.cookie);
  assert.doesNotMatch(visible, /depot_session/);
  assert.match(visible, /depot_csrf=/);
  // Reloading keeps the session; logging out ends it.
  await page.reload();
  await page.waitForSelector('#models tbody tr[data-model="iris"]');
  await page.click('#user button');
  await page.waitForSelector('#login');
  await page.reload();
  await page.waitForSelector('#login');
  await page.context().close();
});

test('finding a model: search by name, filter by tag', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/models');
  await waitForModels(page, ['iris', 'penguins']);
  await page.fill('input[name=prefix]', 'pen');
  await waitForModels(page, ['penguins']);
  assert.match(page.url(), /#\/models\?prefix=pen$/, 'the search is in the address, to share it');
  await page.fill('input[name=prefix]', 'ir');
  await waitForModels(page, ['iris']);
  // The row shows the model's versions, tags and last change.
  const row = page.locator('#models tr[data-model="iris"]');
  assert.match(await row.innerText(), /2 \(latest v2\)/);
  await page.click('#models tr[data-model="iris"] a');
  await page.waitForSelector('#versions tbody tr[data-version="2"]');
  assert.deepEqual(await page.$$eval('#versions tbody tr', (rs) => rs.map((r) => r.dataset.version)), ['2', '1']);

  await go(page, '#/models?tag=demo');
  await waitForModels(page, ['iris']);
  await page.fill('input[name=tag]', 'tabular');
  await waitForModels(page, ['iris', 'penguins']);
  await page.fill('input[name=tag]', '');
  await page.context().close();
});

test('a model\'s versions sort by a metric, and a version shows its signature and download', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/models/iris');
  await page.waitForSelector('#versions tbody tr[data-version="1"]');
  // Without a Prometheus (console.prometheus_url) the traffic card says so instead of charts.
  await page.waitForFunction(() => document.querySelector('#metrics-charts')?.textContent.includes('console.prometheus_url'));
  await page.selectOption('select[name=sort]', '+accuracy');
  await page.waitForFunction(() => document.querySelector('#versions tbody tr')?.dataset.version === '1');
  await page.selectOption('select[name=sort]', '-accuracy');
  await page.waitForFunction(() => document.querySelector('#versions tbody tr')?.dataset.version === '2');
  await page.selectOption('select[name=sort]', 'desc');
  await page.waitForFunction(() => document.querySelector('#versions tbody tr')?.dataset.version === '2');

  await page.click('#versions tr[data-version="2"] a');
  await page.waitForSelector('#download');
  const body = await text(page, 'main');
  for (const expected of ['Inputs', 'tensor(float)', 'probabilities', 'accuracy', '0.973', 'n_estimators', 'iris-2024-01', 'd4e5f6a', 'skl2onnx']) {
    assert.ok(body.includes(expected), `the version page shows ${expected}`);
  }
  const href = await page.getAttribute('#download', 'href');
  assert.equal(href, '/v1/models/iris/versions/2/artifact');
  // The link downloads the artifact with the session cookie.
  const size = await page.evaluate(async (url) => (await (await fetch(url, { credentials: 'same-origin' })).arrayBuffer()).byteLength, href);
  assert.equal(size, 2105);
  await page.context().close();
});

test('comparing two versions shows their metrics side by side', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/models/iris');
  await page.check('#versions tr[data-version="1"] input[type=checkbox]');
  await page.check('#versions tr[data-version="2"] input[type=checkbox]');
  await page.click('#compare');
  await page.waitForSelector('#compare-table');
  assert.match(page.url(), /#\/models\/iris\/compare\?v=1,2$/);
  const rows = await page.$$eval('#compare-table tbody tr', (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
  const row = (label) => rows.find((r) => r[0] === label);
  assert.deepEqual(row('accuracy'), ['accuracy', '0.953', '0.973']);
  assert.deepEqual(row('f1'), ['f1', '0.951', '0.972']);
  assert.deepEqual(row('n_estimators'), ['n_estimators', '—', '50']);
  assert.deepEqual(await page.$$eval('#compare-table thead th', (hs) => hs.map((x) => x.textContent)), ['', 'v1', 'v2']);
  await page.context().close();
});

test('deploying, then rolling back after a confirmation naming both versions', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/models/iris/deployment');
  await page.waitForSelector('#deploy-form');
  assert.match(await text(page, '#serving'), /Not deployed/);

  // An error shows the server's message.
  await page.fill('#deploy-form input[name=version]', '99');
  await page.click('#deploy-form button[type=submit]');
  await page.waitForSelector('#msg .note.error');
  assert.match(await text(page, '#msg'), /99/);

  for (const version of [1, 2]) {
    await page.fill('#deploy-form input[name=version]', String(version));
    await page.click('#deploy-form button[type=submit]');
    await page.waitForFunction((v) => document.querySelector('#served-version')?.textContent === String(v), version);
    await eventuallyServes(version);
  }
  await page.fill('input[name=reason]', 'v2 misclassifies virginica');
  await page.click('#rollback');
  const dialog = page.locator('dialog[open]');
  await dialog.waitFor();
  const question = await dialog.locator('.dialog-message').innerText();
  assert.match(question, /from version 2 to version 1/, question);
  // Cancelling changes nothing.
  await dialog.locator('button', { hasText: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await text(page, '#served-version'), '2');
  assert.equal(await servedVersion(), 2);

  await page.click('#rollback');
  await page.locator('dialog[open] button[data-confirm]').click();
  await page.waitForFunction(() => document.querySelector('#served-version')?.textContent === '1');
  await eventuallyServes(1);
  const latest = page.locator('#history li').first();
  assert.equal(await latest.getAttribute('data-action'), 'deployment.rollback');
  const entry = await latest.innerText();
  assert.match(entry, /Rolled back/);
  assert.match(entry, /v2 → v1/);
  assert.match(entry, /by admin/);
  assert.match(entry, /v2 misclassifies virginica/);
  assert.equal(await page.locator('#history li').count(), 3, 'deploy v1, deploy v2, roll back');

  // Move an alias, for the screenshots and the model page.
  await page.fill('#alias-form input[name=alias]', 'champion');
  await page.fill('#alias-form input[name=alias_version]', '1');
  await page.click('#alias-form button[type=submit]');
  await page.waitForSelector('#aliases tr[data-alias="champion"]');

  // The models list shows what is deployed and the aliases.
  await go(page, '#/models');
  await page.waitForFunction(() => /v1/.test(document.querySelector('#models tr[data-model="iris"]')?.cells[1].textContent));
  assert.match(await page.locator('#models tr[data-model="iris"]').innerText(), /champion → v1/);
  await page.context().close();
});

test('a canary: started with its share, then ended', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/models/iris/deployment');
  await page.waitForSelector('#canary-form');
  assert.equal(await text(page, '#served-version'), '1');
  await page.fill('#canary-form input[name=canary_version]', '2');
  await page.fill('#canary-form input[name=percent]', '20');
  await page.click('#canary-form button[type=submit]');
  await page.waitForSelector('#canary');
  assert.match(await text(page, '#canary'), /v2 takes 20% of the requests/);
  assert.equal(await page.locator('#history li').first().getAttribute('data-action'), 'deployment.canary');
  const deployment = await adminApi('GET', '/v1/models/iris/deployment');
  assert.deepEqual(deployment.body.canary, { version: 2, percent: 20 });
  await page.locator('button', { hasText: 'End canary' }).click();
  await page.waitForSelector('#canary', { state: 'detached' });
  assert.equal(await page.locator('#history li').first().getAttribute('data-action'), 'deployment.abort_canary');
  assert.equal((await adminApi('GET', '/v1/models/iris/deployment')).body.canary ?? null, null);
  await page.context().close();
});

test('a read-only user sees the deployment but no button to change it', async () => {
  const page = await logIn(readerToken);
  assert.equal(await text(page, '#user .who'), 'reader');
  await go(page, '#/models/iris/deployment');
  await page.waitForSelector('#history li');
  await page.waitForSelector('#serving');
  assert.equal(await page.locator('#deploy-form').count(), 0);
  assert.equal(await page.locator('#rollback').count(), 0);
  assert.equal(await page.locator('#alias-form').count(), 0);
  assert.equal(await page.locator('button', { hasText: /deploy|roll back|canary|move alias/i }).count(), 0);
  assert.equal(await page.locator('#nav a', { hasText: 'Tokens' }).count(), 0);
  // Reading works.
  await go(page, '#/models/iris');
  await page.waitForSelector('#versions tbody tr[data-version="1"]');
  await page.context().close();
});

test('a forged cross-site request is refused', async () => {
  const page = await logIn(adminToken);
  // From the logged-in page itself: the cookie goes along, but without the CSRF header the
  // change is refused; with it, the same request works.
  const without = await page.evaluate(async () => {
    const r = await fetch('/v1/models', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: '{"name":"forged-fetch"}' });
    return { status: r.status, body: await r.json() };
  });
  assert.equal(without.status, 403);
  assert.equal(without.body.code, 'forbidden');
  const withHeader = await page.evaluate(async () => {
    const csrf = document.cookie.match(/depot_csrf=([^;]*)/)[1];
    const r = await fetch('/v1/models', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{"name":"made-by-console"}' });
    return r.status;
  });
  assert.equal(withHeader, 201);

  // A page on another origin (another port) in the same logged-in browser: an auto-submitted
  // form, and a fetch, both POSTing to /v1/models.
  const evil = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    if (req.url === '/form') {
      res.end(`<!doctype html><form id="f" method="POST" action="${base}/v1/models" enctype="text/plain">
        <input name='{"name":"forged-form","x":"' value='"}'></form><script>document.getElementById('f').submit()</script>`);
    } else {
      res.end('<!doctype html><p>evil</p>');
    }
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  const evilBase = `http://127.0.0.1:${evil.address().port}`;
  try {
    const answer = page.waitForResponse((r) => r.url() === `${base}/v1/models` && r.request().method() === 'POST');
    await page.goto(`${evilBase}/form`);
    const response = await answer;
    // The browser sends the session cookie along (same site, another port): the missing CSRF
    // header is what refuses it.
    assert.equal(response.status(), 403, await response.text());
    assert.equal((await response.json()).code, 'forbidden');

    await page.goto(`${evilBase}/`);
    const fetched = await page.evaluate(async (url) => {
      try {
        const r = await fetch(url, { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"name":"forged-nocors"}' });
        return r.type;
      } catch (e) { return String(e); }
    }, `${base}/v1/models`);
    assert.ok(fetched, 'the request was attempted');
  } finally {
    evil.close();
  }
  for (const name of ['forged-fetch', 'forged-form', 'forged-nocors']) {
    assert.equal((await adminApi('GET', `/v1/models/${name}`)).status, 404, `model ${name} was not created`);
  }
  assert.equal((await adminApi('GET', '/v1/models/made-by-console')).status, 200);
  await page.context().close();
});

test('tokens: create (shown once, with a copy button), list, revoke', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/tokens');
  await page.waitForSelector('#tokens tbody tr');
  await page.fill('#token-form input[name=name]', 'ci-deploy');
  await page.fill('#token-form input[name=principal]', 'ci-pipeline');
  await page.selectOption('#token-form select[name=role]', 'deployer');
  await page.fill('#token-form input[name=models]', 'iris');
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#token-text');
  const token = await page.inputValue('#token-text');
  assert.match(token, /^depot_[0-9a-f]{12}_/);
  assert.equal(await page.locator('#copy-token').count(), 1);
  const id = token.split('_')[1];
  await page.waitForSelector(`#tokens tr[data-token="${id}"]`);
  assert.match(await page.locator(`#tokens tr[data-token="${id}"]`).innerText(), /deployer on iris/);
  const who = await adminApi('GET', '/v1/whoami', undefined, token);
  assert.equal(who.body.principal, 'ci-pipeline');

  // Shown once: after reloading the page the text is gone.
  await page.reload();
  await page.waitForSelector(`#tokens tr[data-token="${id}"]`);
  assert.equal(await page.locator('#token-text').count(), 0);
  assert.equal((await page.content()).includes(token), false);

  await page.locator(`#tokens tr[data-token="${id}"] button`, { hasText: 'Revoke' }).click();
  const dialog = page.locator('dialog[open]');
  assert.match(await dialog.innerText(), /ci-deploy/);
  await dialog.locator('button[data-confirm]').click();
  await page.waitForSelector(`#tokens tr[data-token="${id}"]`, { state: 'detached' });
  assert.equal((await adminApi('GET', '/v1/whoami', undefined, token)).status, 401);
  await page.check('input[name=include_revoked]');
  await page.waitForSelector(`#tokens tr.revoked[data-token="${id}"]`);
  await page.context().close();
});

test('a protected model: a change waits for another principal, who approves it', async () => {
  const fixtures = new URL('../fixtures/', import.meta.url);
  assert.equal((await adminApi('POST', '/v1/models', { name: 'fraud' })).status, 201);
  const form = new FormData();
  const { readFile } = await import('node:fs/promises');
  form.append('artifact', new Blob([await readFile(new URL('sklearn_logreg.onnx', fixtures))]), 'model.onnx');
  const pushed = await fetch(`${base}/v1/models/fraud/versions`, { method: 'POST', headers: { authorization: `Bearer ${adminToken}` }, body: form });
  assert.equal(pushed.status, 201);
  assert.equal((await adminApi('PUT', '/v1/models/fraud/protection', { deployment: true, require_approval: true, aliases: ['production'] })).status, 200);
  const deployer = async (principal) => (await adminApi('POST', '/v1/tokens', { name: 'console', principal, grants: [{ role: 'deployer', models: 'fraud' }] })).body.token;
  const [alice, bob] = [await deployer('alice'), await deployer('bob')];

  const a = await logIn(alice);
  await go(a, '#/models/fraud/deployment');
  await a.waitForSelector('#deploy-form');
  assert.match(await text(a, 'main'), /protected/);
  await a.fill('#deploy-form input[name=version]', '1');
  await a.click('#deploy-form button[type=submit]');
  await a.waitForSelector('#pending tr[data-change]');
  assert.match(await text(a, '#msg'), /waits for another principal's approval/);
  assert.match(await text(a, '#serving'), /Not deployed/);
  // Her own change: no approve button for her.
  assert.equal(await a.locator('#pending button', { hasText: 'Approve' }).count(), 0);
  assert.match(await text(a, '#pending'), /yours/);

  const b = await logIn(bob);
  await go(b, '#/approvals');
  await b.waitForSelector('#changes tr[data-change]');
  assert.match(await text(b, '#changes'), /deploy v1/);
  await b.locator('#changes button', { hasText: 'Approve' }).click();
  await b.waitForSelector('#changes tr[data-change]', { state: 'detached' });
  await go(b, '#/models/fraud/deployment');
  await b.waitForFunction(() => document.querySelector('#served-version')?.textContent === '1');
  await a.context().close();
  await b.context().close();
});

test('on a phone the pages fit the screen (tables scroll inside their box)', async () => {
  const page = await logIn(adminToken, PHONE);
  for (const hash of ['#/models', '#/models/iris', '#/models/iris/versions/2', '#/models/iris/deployment', '#/audit', '#/tokens']) {
    await go(page, hash);
    await page.waitForSelector('main .view > *');
    await page.waitForLoadState('networkidle');
    const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(scroll <= width, `${hash}: page is ${scroll}px wide on a ${width}px screen`);
  }
  await page.context().close();
});

test('the audit log lists the changes, filtered by model', async () => {
  const page = await logIn(adminToken);
  await go(page, '#/audit?model=iris');
  await page.waitForSelector('#audit tbody tr');
  const actions = await page.$$eval('#audit tbody tr:not([hidden]) td:nth-child(3)', (cs) => cs.map((c) => c.textContent));
  assert.ok(actions.includes('deployment.rollback') && actions.includes('version.create'), actions.join());
  const models = await page.$$eval('#audit tbody tr td:nth-child(4)', (cs) => [...new Set(cs.map((c) => c.textContent))]);
  assert.deepEqual(models, ['iris']);
  await page.fill('input[name=action]', 'rollback');
  assert.deepEqual(await page.$$eval('#audit tbody tr:not([hidden]) td:nth-child(3)', (cs) => cs.map((c) => c.textContent)), ['deployment.rollback']);
  await page.context().close();
});

test('screenshots of the main pages (laptop size) for the README', { skip: !shots && 'SCREENSHOTS is empty' }, async () => {
  const page = await logIn(adminToken);
  for (const [name, hash, ready] of [
    ['models', '#/models', '#models tr[data-model="iris"] .chip.deployed'],
    ['model', '#/models/iris', '#versions tbody tr[data-version="1"]'],
    ['version', '#/models/iris/versions/2', '#download'],
    ['compare', '#/models/iris/compare?v=1,2', '#compare-table'],
    ['deployment', '#/models/iris/deployment', '#history li'],
    ['approvals', '#/approvals?state=approved', '#changes tr[data-change]'],
    ['tokens', '#/tokens', '#tokens tbody tr'],
  ]) {
    await go(page, hash);
    await page.waitForSelector(ready);
    await page.waitForLoadState('networkidle');
    await page.mouse.move(0, 0);
    await screenshot(page, name);
  }
  await page.context().close();
});

test('long lists show their first page and load the next when scrolled to', async () => {
  for (let i = 1; i <= 60; i++) {
    assert.equal((await adminApi('POST', '/v1/models', { name: `zz-page-${String(i).padStart(3, '0')}` })).status, 201);
  }
  const page = await logIn(adminToken);
  await go(page, '#/models?prefix=zz-page-');
  await page.waitForSelector('#models tr[data-model="zz-page-050"]');
  assert.equal((await modelRows(page)).length, 50, 'the first page only');
  await page.locator('button[data-more]').scrollIntoViewIfNeeded();
  await page.waitForSelector('#models tr[data-model="zz-page-060"]');
  assert.equal((await modelRows(page)).length, 60);
  assert.equal(await page.locator('button[data-more]').isVisible(), false, 'nothing more to load');
  await page.context().close();
});

test('no page broke the Content-Security-Policy or threw', () => {
  assert.deepEqual(problems, []);
});
