// The demo page in a real browser: Debian's chromium driven by playwright-core. tests/browser/run.sh
// starts the demo stack and runs this file with the two URLs; it prints TAP lines numbered from
// TAP_START (run.sh prints the plan), and exits 1 if any failed.
//
//   DEMO_HTTP_URL=http://127.0.0.1:P DEMO_HTTPS_URL=https://127.0.0.1:Q SCREENSHOT=FILE node demo.spec.mjs
import { chromium } from 'playwright-core';

const HTTP = process.env.DEMO_HTTP_URL;
const HTTPS = process.env.DEMO_HTTPS_URL;
const SCREENSHOT = process.env.SCREENSHOT;
let n = Number(process.env.TAP_START || 1) - 1;
let failed = 0;

function report(pass, desc, detail) {
  n++;
  console.log(`${pass ? 'ok' : 'not ok'} ${n} - ${desc}`);
  if (!pass) {
    failed++;
    if (detail) for (const line of String(detail).split('\n')) console.log(`#   ${line}`);
  }
}

// Runs one check; a thrown error (a timeout of waitForFunction, say) is a failure with its message.
async function check(desc, fn) {
  try {
    const detail = await fn();
    report(detail === undefined || detail === true, desc, detail);
  } catch (err) {
    report(false, desc, err.message.split('\n').slice(0, 6).join('\n'));
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tiles = (page) => page.evaluate(() => window.__ringcast.tiles());

// The first hole or repeat in one tile's sequence numbers, or '' when they are contiguous.
function firstHole(ns) {
  for (let i = 1; i < ns.length; i++) if (ns[i] !== ns[i - 1] + 1) return `n=${ns[i - 1]} then n=${ns[i]}`;
  return '';
}

// The launch flags of DESIGN.md's field note: no sandbox (root), no GPU, nothing that phones home;
// QUIC off so that the https page speaks h2 over TCP as the edge offers it.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--ignore-certificate-errors',
  ],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 1000 } });

try {
  // --- HTTP/2 over TLS: every stream on one connection ---------------------------------------------
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${HTTPS}/`);

  await check('https: the page came over HTTP/2 (h2 in the Performance API)', async () => {
    const proto = await page.evaluate(() => window.__ringcast.protocol());
    return proto === 'h2' || `protocol ${proto}`;
  });

  await check('https: all 12 sensor tiles receive events within 10 s', async () => {
    try {
      await page.waitForFunction(() => Object.values(window.__ringcast.tiles()).every((t) => t.count > 0), null, {
        timeout: 10000,
      });
    } catch {
      const t = await tiles(page);
      const live = Object.entries(t).filter(([, v]) => v.count > 0).map(([k]) => k);
      return `${live.length} of 12 received events: ${live.join(' ')}`;
    }
  });

  await check('https: 14 streams open at once (12 tiles, ranking, chat), shown on the page', async () => {
    try {
      await page.waitForFunction(() => document.getElementById('open-streams').textContent === '14 of 14', null, {
        timeout: 5000,
      });
    } catch {
      return `the page shows "${await page.textContent('#open-streams')}"`;
    }
  });

  await check('https: the ranking table fills with the five warmest sensors', async () => {
    await page.waitForFunction(() => document.querySelectorAll('#ranking tr').length === 5, null, { timeout: 5000 });
  });

  await check('chat: a message sent with POST comes back through Kafka on the followed user stream', async () => {
    const user = `tester-${process.pid}`;
    const text = `hello from the browser test ${Date.now()}`;
    await page.fill('#chat-user', user);
    await page.dispatchEvent('#chat-user', 'change');
    await page.selectOption('#chat-follow', '@me');
    await page.fill('#chat-text', text);
    await page.click('#chat-send');
    await page.waitForFunction(
      ([u, t]) => window.__ringcast.state.chat.some((m) => m.user === u && m.text === t),
      [user, text],
      { timeout: 8000 },
    );
    const status = await page.textContent('#chat-status');
    const others = await page.evaluate((u) => window.__ringcast.state.chat.filter((m) => m.user !== u).length, user);
    if (!status.startsWith('in Kafka: chat partition')) return `POST status: ${status}`;
    if (others !== 0) return `${others} messages of other users on a stream that follows ${user}`;
  });

  await check('drop connection: every tile resumes from Last-Event-ID with no hole and no repeat', async () => {
    const before = await tiles(page);
    const drops = await page.evaluate(() => window.__ringcast.state.drops);
    await page.click('#drop');
    // The page waits 1 s before it reopens: five readings per sensor happen while nothing listens.
    await page.waitForFunction((d) => window.__ringcast.state.drops === d + 1, drops, { timeout: 2000 });
    await page.waitForFunction(
      (b) => Object.entries(window.__ringcast.tiles()).every(([k, t]) => t.open && t.count >= b[k].count + 15),
      before,
      { timeout: 10000 },
    );
    const after = await tiles(page);
    const bad = [];
    for (const [name, t] of Object.entries(after)) {
      const hole = firstHole(t.ns);
      if (hole) bad.push(`${name}: ${hole}`);
      if (t.lost || t.repeated) bad.push(`${name}: lost ${t.lost}, repeated ${t.repeated}`);
    }
    const s1 = after['sensor-1'];
    console.log(`# sensor-1: n ${s1.ns[0]}..${s1.ns[s1.ns.length - 1]}, ${s1.count} events, ${before['sensor-1'].count} before the drop`);
    return bad.length === 0 || bad.join('\n');
  });

  await check('https: the page raised no JavaScript error', async () => errors.length === 0 || errors.join('\n'));

  await check(`a screenshot of the https page is saved (${SCREENSHOT})`, async () => {
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
  });
  await page.close();

  // --- HTTP/1.1: six connections per host, so at most six streams -----------------------------------
  const page1 = await context.newPage();
  await page1.goto(`${HTTP}/`);
  await check('http: the page came over HTTP/1.1', async () => {
    const proto = await page1.evaluate(() => window.__ringcast.protocol());
    return proto === 'http/1.1' || `protocol ${proto}`;
  });
  await check('http: at most 6 of the 12 tiles receive events in 5 s (the browser\'s limit per host)', async () => {
    await sleep(5000);
    const t = await tiles(page1);
    const live = Object.values(t).filter((v) => v.count > 0).length;
    const open = await page1.evaluate(() => window.__ringcast.openStreams());
    console.log(`# http: ${live} of 12 tiles received events; ${open} streams open`);
    return (live >= 1 && live <= 6 && open <= 6) || `${live} tiles received events, ${open} streams open`;
  });
  await check('http: the page explains the limit', async () => page1.isVisible('#h1-note'));
  await page1.close();
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
