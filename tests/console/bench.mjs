// Measures the console's first load in headless Chromium (used by scripts/bench-console.sh).
// For each page, RUNS times in a fresh browser context (empty cache, logged in by
// POST /console/session): first contentful paint, the time until the page's list shows its first
// row, and the bytes transferred (navigation + every resource, `transferSize`, once the network
// is idle, so the lazy per-row calls are counted too). Before each page's runs, WARMUP loads
// (default 1) that are not counted. Prints a table and, on the last line, JSON.
//
// Environment: DEPOT_URL, ADMIN_TOKEN, CHROMIUM, RUNS (default 5), WARMUP (default 1), BENCH_PAGES
// ("name=hash=selector;..." default: the models page and model `big`).
import { chromium } from 'playwright-core';

const base = process.env.DEPOT_URL;
const runs = Number(process.env.RUNS || 5);
const warmup = Number(process.env.WARMUP ?? 1);
const pages = (process.env.BENCH_PAGES || 'models=#/models=#models tbody tr[data-model];model=#/models/big=#versions tbody tr[data-version]')
  .split(';').map((p) => { const [name, hash, selector] = p.split('='); return { name, hash, selector }; });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const results = {};
try {
  for (const { name, hash, selector } of pages) {
    const samples = [];
    // Runs below 0 are warm-ups (the browser's own start-up costs land on its first loads): not counted.
    for (let i = -warmup; i < runs; i++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const login = await context.request.post(`${base}/console/session`, { data: { token: process.env.ADMIN_TOKEN } });
      if (login.status() !== 200) throw new Error(`login: ${login.status()} ${await login.text()}`);
      const page = await context.newPage();
      // Records when the list's first row enters the DOM (installed through the DevTools
      // protocol, so the page's Content-Security-Policy does not apply to it).
      await page.addInitScript((sel) => {
        new MutationObserver((_, obs) => {
          if (document.querySelector(sel)) { window.__listAt = performance.now(); obs.disconnect(); }
        }).observe(document, { childList: true, subtree: true });
      }, selector);
      await page.goto(`${base}/console/${hash}`);
      await page.waitForSelector(selector);
      await page.waitForLoadState('networkidle');
      const m = await page.evaluate(() => {
        const fcp = performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null;
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        return {
          fcp_ms: fcp, list_ms: window.__listAt ?? null,
          bytes: nav.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
          requests: 1 + res.length,
        };
      });
      if (i >= 0) samples.push(m);
      await context.close();
    }
    const pick = (k) => samples.map((s) => s[k]);
    results[name] = {
      hash, runs,
      fcp_ms: { median: median(pick('fcp_ms')), max: Math.max(...pick('fcp_ms')) },
      list_ms: { median: median(pick('list_ms')), max: Math.max(...pick('list_ms')) },
      kb: { median: median(pick('bytes')) / 1024, max: Math.max(...pick('bytes')) / 1024 },
      requests: { median: median(pick('requests')), max: Math.max(...pick('requests')) },
      samples,
    };
  }
} finally {
  await browser.close();
}

const f = (x) => x.toFixed(1);
console.log('page     runs  FCP ms median/max   first row ms median/max   KB transferred median/max   requests');
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(8)} ${String(r.runs).padStart(4)}  ${`${f(r.fcp_ms.median)} / ${f(r.fcp_ms.max)}`.padEnd(19)} ${`${f(r.list_ms.median)} / ${f(r.list_ms.max)}`.padEnd(25)} ${`${f(r.kb.median)} / ${f(r.kb.max)}`.padEnd(27)} ${r.requests.median}`);
}
const ok = Object.values(results).every((r) => r.fcp_ms.max < 300 && r.kb.max < 200);
console.log(`targets (every run: FCP < 300 ms, < 200 KB): ${ok ? 'MET' : 'NOT MET'}`);
console.log(JSON.stringify(results));
