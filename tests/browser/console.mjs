// console.mjs: the web console checked in a real browser, as its users would:
// Debian's chromium, headless, driven through the DevTools protocol
// (puppeteer-core), against piyasa-api and the fleet that
// tests/integration/test_console.c starts. Exit 0: every check passed; 77:
// chromium could not start (the caller says SKIPPED); anything else: a check
// failed (its screenshot is .data/screens/fail-*.png).
//
// Environment: CONSOLE_URL (the API), CONSOLE_FAKE_URL (the fake Telegram and
// LLM API), CONSOLE_CHAT (the cast's chat), PIYASA_BIN_DIR (piyasactl), and the
// database and Redis of the test (inherited by piyasactl). CHROMIUM overrides
// the browser's path; CONSOLE_SCREENS the screenshots' folder.
//
// A check that needs an API resource the API does not have yet (404 "no
// resource") is reported NOT RUN, by name, and does not count as passed.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';

const SKIP = 77;
const URL = process.env.CONSOLE_URL;
const FAKE = process.env.CONSOLE_FAKE_URL;
const CHAT = process.env.CONSOLE_CHAT;
const BIN = process.env.PIYASA_BIN_DIR || 'bin';
const SCREENS = process.env.CONSOLE_SCREENS || path.resolve('.data/screens');
const USERS = { admin: ['alice', 'alice-password'], operator: ['olga', 'olga-password'], viewer: ['victor', 'victor-password'] };

let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch (e) {
  console.error('console.mjs: puppeteer-core is not installed: run scripts/deps (npm ci in tests/browser)');
  process.exit(1);
}
if (!URL) { console.error('console.mjs: CONSOLE_URL is not set (run it through scripts/test integration console)'); process.exit(2); }
mkdirSync(SCREENS, { recursive: true });
for (const f of readdirSync(SCREENS)) if (f.startsWith('fail-')) unlinkSync(path.join(SCREENS, f)); // an old run's

let browser;
try {
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions'],
    protocolTimeout: 60000,
  });
} catch (e) {
  console.error(`console.mjs: chromium cannot start: ${e.message.split('\n')[0]}`);
  process.exit(SKIP);
}

const page = await browser.newPage();
page.setDefaultTimeout(15000);
await page.setViewport({ width: 1360, height: 900 });
// What the browser refuses or throws is a failure of the console: CSP
// violations, script errors, failed module loads. 4xx answers the console
// shows on purpose (a refused value) are logged by chromium as console errors
// too; those are told apart by their text.
const problems = [];
await page.evaluateOnNewDocument(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    (window.__csp = window.__csp || []).push(`${e.violatedDirective} ${e.blockedURI}`);
  });
});
page.on('pageerror', (e) => problems.push('script error: ' + e.message));
page.on('console', (m) => {
  const t = m.text();
  if (m.type() === 'error' && /Content Security Policy|Refused to|SyntaxError|TypeError|ReferenceError|Failed to load module/.test(t))
    problems.push('console: ' + t);
});

let passed = 0;
const notRun = [];
const t0 = Date.now();
const shot = (name) => page.screenshot({ path: path.join(SCREENS, name + '.png'), fullPage: false });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function check(name, fn) {
  const start = Date.now();
  try {
    const r = await fn();
    if (r === 'not run') return;
    passed++;
    console.log(`  ok   ${name} (${Date.now() - start} ms)`);
  } catch (e) {
    console.log(`  FAIL ${name}: ${e.message}`);
    await shot('fail-' + name.replace(/\W+/g, '-')).catch(() => {});
    await browser.close();
    process.exit(1);
  }
}
const must = (cond, msg) => { if (!cond) throw new Error(msg); };
// Poll fn until it is truthy. A poll that asks the API goes every 500 ms: the
// API's rate limit (600 a minute per address, a burst of 60) is shared with
// the console under test.
async function waitFor(fn, ms, what, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(every);
  }
}
const items = (d) => (Array.isArray(d) ? d : (d && Object.values(d).find(Array.isArray)) || []);
const text = (sel) => page.$eval(sel, (e) => e.textContent).catch(() => null);
const count = (sel) => page.$$eval(sel, (l) => l.length);
// Controls a user can see (a closed dialog's buttons are not offered).
const visible = (sel) => page.$$eval(sel, (l) => l.filter((e) => e.checkVisibility()).length);
// A request from the page, with its session cookie (and the CSRF token when asked).
const fetchIn = (method, p, body, withCsrf = true) => page.evaluate(async (method, p, body, withCsrf) => {
  const h = { 'Content-Type': 'application/json' };
  if (withCsrf && sessionStorage.getItem('piyasa.csrf')) h['X-CSRF-Token'] = sessionStorage.getItem('piyasa.csrf');
  const r = await fetch(p, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  let j = null;
  try { j = await r.json(); } catch (_) {}
  return { status: r.status, json: j };
}, method, p, body, withCsrf);
// Does the API have this resource yet? (404 "Not found" from its router: no.)
async function has(p) {
  const r = await fetchIn('GET', p);
  return !(r.status === 404 && r.json && /no resource/.test(r.json.detail || ''));
}
const gate = async (name, p) => {
  if (await has(p)) return true;
  notRun.push(`${name} (the API has no ${p} yet)`);
  console.log(`  --   ${name}: NOT RUN, the API has no ${p} yet`);
  return false;
};
const execFileAsync = promisify(execFile);
const fake = async (p, body) => (await fetch(FAKE + p, body ? { method: 'POST', body: JSON.stringify(body) } : {})).json();
const go = async (hash) => { await page.goto(URL + '/' + hash); };
async function login(who) {
  const [name, pass] = USERS[who];
  await go('#/');
  await page.waitForSelector('#l-name');
  await page.type('#l-name', name);
  await page.type('#l-pass', pass);
  await page.click('form[aria-label="Log in"] button[type=submit]');
  await page.waitForFunction((n) => document.querySelector('[data-me]') && document.querySelector('[data-me]').textContent === n, {}, name);
}
async function logout() {
  await page.waitForSelector('.who button');
  await page.click('.who button');
  await page.waitForSelector('#l-name');
}
const confirmDialog = async () => { await page.waitForSelector('dialog[open] [data-confirm]'); await page.click('dialog[open] [data-confirm]'); };

console.log(`console.mjs: ${URL}, screenshots in ${SCREENS}`);

await check('the console is served with a strict CSP and an ETag', async () => {
  const r = await fetch(URL + '/');
  must(r.status === 200, `GET / answered ${r.status}`);
  const csp = r.headers.get('content-security-policy') || '';
  must(/script-src 'self'/.test(csp) && !/unsafe/.test(csp), `CSP: '${csp}'`);
  must(r.headers.get('etag'), 'no ETag');
  must(r.headers.get('x-content-type-options') === 'nosniff', `X-Content-Type-Options: ${r.headers.get('x-content-type-options')}`);
  must(r.headers.get('x-ratelimit-limit'), 'no X-RateLimit-Limit (every answer carries it)');
  const again = await fetch(URL + '/', { headers: { 'If-None-Match': r.headers.get('etag') } });
  must(again.status === 304, `If-None-Match answered ${again.status}`);
  const js = await fetch(URL + '/assets/js/app.js');
  must(js.status === 200 && /javascript/.test(js.headers.get('content-type')), 'app.js not served as JavaScript');
});

await check('the login page asks for a name and a password', async () => {
  await go('#/');
  await page.waitForSelector('#l-name');
  await shot('login');
  await page.type('#l-name', 'alice');
  await page.type('#l-pass', 'wrong-password');
  await page.click('form[aria-label="Log in"] button[type=submit]');
  await page.waitForSelector('.login .problem');
  must(/Wrong name or password/.test(await text('.login .problem')), 'no refusal shown');
});

await check('an admin logs in and sees the dashboard with 4 workers', async () => {
  await page.reload();
  await login('admin');
  await page.waitForSelector('[data-card=fleet] tbody tr');
  await waitFor(async () => (await count('[data-card=fleet] tbody tr')) === 4 &&
    (await page.$$eval('[data-card=fleet] tbody tr', (l) => l.every((r) => /ready/.test(r.textContent)))), 15000, '4 ready workers');
  must((await count('.nav a[href="#/users"]')) === 1, 'an admin is not offered Users');
  await page.waitForFunction(() => /all closed/.test((document.querySelector('[data-card=breakers] h2') || {}).textContent || ''));
  await page.waitForSelector('[data-card=spend] [data-provider]');
});

await check('the dashboard\'s queue numbers move', async () => {
  // a slow LLM keeps jobs leased for a while: the numbers are seen moving
  await fake('/_control/faults', { llm_latency_ms: 1500 });
  const out = execFileAsync(path.join(BIN, 'piyasactl'), ['enqueue', '--chat', CHAT, '--all-bots', '--count', '300', '--rate', '60', '--priority', 'low']);
  // moving: a reading with jobs in it, then a different one (more, fewer, none)
  const seen = [];
  await waitFor(async () => {
    const v = await page.$$eval('[data-queue] .stat-n', (l) => l.map((e) => e.textContent).join(' '));
    if (seen[seen.length - 1] !== v) seen.push(v);
    const busy = seen.findIndex((r) => /[1-9]/.test(r));
    return busy >= 0 && seen.length > busy + 1;
  }, 25000, 'a queue reading with jobs, then another').catch(async (e) => {
    const o = await out.catch((x) => x);
    throw new Error(`${e.message}; readings: ${seen.join(' | ')}; piyasactl: ${o.stdout || ''}${o.stderr || ''}`);
  });
  console.log(`       (${(await out).stdout.trim()}; readings ${seen.slice(0, 5).join(' | ')})`);
  await fake('/_control/faults', { llm_latency_ms: 150 });
});

await check('the dashboard charts the last hour\'s sends and their enqueue-to-sent latency', async () => {
  if (!(await gate('message stats', '/api/v1/stats/messages'))) return 'not run';
  // the server's per-minute stats, asked again every 10 s: points once messages were sent
  const points = (name) => page.$eval(`[data-chart=${name}]`, (e) => Number(e.dataset.points)).catch(() => 0);
  await waitFor(async () => (await points('latency')) > 0, 20000, 'points on the latency chart');
  const st = (await fetchIn('GET', '/api/v1/stats/messages?minutes=60')).json;
  const rows = items(st && st.per_minute);
  must(rows.length === 60, `the stats have ${rows.length} minutes, not 60`);
  must(rows.some((r) => r.sent > 0 && r.p50_ms !== null && r.p95_ms >= r.p50_ms), 'no minute with sends and their p50 <= p95');
  must((await points('sent')) >= 60, 'the sent chart does not have the 60 minutes');
  await shot('dashboard');
  console.log(`       (latency chart: ${await points('latency')} points)`);
});

await check('the dashboard is live from the API\'s stream', async () => {
  await page.waitForSelector('[data-live="live"]', { timeout: 10000 });
});

await check('with the stream cut, the dashboard says so and keeps current by polling', async () => {
  const cut = (r) => (r.url().includes('/api/v1/stream') ? r.abort() : r.continue());
  await page.setRequestInterception(true);
  page.on('request', cut);
  try {
    await page.reload();
    await page.waitForSelector('[data-live="polling"]', { timeout: 15000 });
    const beats = () => page.$$eval('[data-card=fleet] tbody tr td:nth-child(5)', (l) => l.map((e) => e.textContent).join(' '));
    await page.waitForSelector('[data-card=fleet] tbody tr');
    const first = await beats();
    await waitFor(async () => (await beats()) !== first, 8000, 'the heartbeats polled again');
    await shot('dashboard-polling');
  } finally {
    page.off('request', cut);
    await page.setRequestInterception(false);
  }
  await page.reload();
  await page.waitForSelector('[data-live="live"]', { timeout: 15000 });
});

await check('a setting with a bad value shows the error at the setting and is not stored', async () => {
  await go('#/settings');
  const sel = '[data-setting=reply_probability]';
  await page.waitForSelector(sel + ' input');
  const input = await page.$(sel + ' input');
  await input.click({ clickCount: 3 });
  await input.type('7');
  await page.click(sel + ' button[type=submit]');
  await page.waitForSelector(sel + ' .field-error');
  const r = await fetchIn('GET', '/api/v1/settings/reply_probability');
  must(r.json && r.json.value === 0.65, `stored anyway: ${JSON.stringify(r.json)}`);
  await page.$eval(sel, (e) => e.scrollIntoView({ block: 'center' }));
  await shot('settings-error');
  await input.click({ clickCount: 3 });
  await input.type('0.6');
  await page.click(sel + ' button[type=submit]');
  await page.waitForSelector(sel + ' .saved');
  const r2 = await fetchIn('GET', '/api/v1/settings/reply_probability');
  must(r2.json && r2.json.value === 0.6, `not stored: ${JSON.stringify(r2.json)}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('settings');
});

await check('starting the simulation (confirmed) makes the workers chatter; stopping it stops them', async () => {
  // the enqueued jobs first run out, so what is sent afterwards is chatter
  await waitFor(async () => {
    const q = await fetchIn('GET', '/api/v1/queues');
    const t = q.json && q.json.total;
    return t && t.high + t.normal + t.low + t.leased + t.delayed === 0;
  }, 60000, 'the enqueued jobs done', 500);
  await go('#/control');
  await page.waitForSelector('[data-card=scale] input');
  await page.type('[data-card=scale] input', '60');
  await page.click('[data-card=scale] button[type=submit]');
  await confirmDialog();
  await page.waitForFunction(() => /Scale factor: 60/.test(document.querySelector('[data-card=scale] h2').textContent));
  await page.click('[data-card=simulation] button');
  await shot('control-confirm');
  await confirmDialog();
  await page.waitForFunction(() => /running/.test(document.querySelector('[data-card=simulation] h2').textContent));
  await shot('control');
  const before = (await fake('/_stats/sends')).sends;
  await waitFor(async () => (await fake('/_stats/sends')).sends >= before + 3, 30000, 'chatter after the start');
  await page.click('[data-card=simulation] button');
  await confirmDialog();
  await page.waitForFunction(() => /stopped/.test(document.querySelector('[data-card=simulation] h2').textContent));
  await sleep(4000); // what was under way when it stopped is sent
  const settled = (await fake('/_stats/sends')).sends;
  await sleep(5000);
  const after = (await fake('/_stats/sends')).sends;
  must(after === settled, `still chattering after the stop: ${settled} -> ${after} sends`);
});

await check('the live chat shows a human\'s message and the answer under it', async () => {
  if (!(await gate('live chat', `/api/v1/messages?chat=${CHAT}&limit=1`))) return 'not run';
  // every human message gets an answer (not 60 % of them): the check is deterministic
  const hr = await fetchIn('PUT', '/api/v1/settings/human_reply_probability', { value: 1 });
  must(hr.status === 200, `human_reply_probability: ${hr.status}`);
  await go('#/chat/' + CHAT);
  await page.waitForSelector('.messages');
  await page.waitForFunction(() => document.querySelector('[data-live]') && document.querySelector('[data-live]').dataset.live === 'live', { timeout: 10000 });
  // when each message first shows, by the browser's clock (the same machine's)
  await page.evaluate(() => {
    window.__seen = {};
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('.messages li[data-id]'))
        if (!window.__seen[li.dataset.id]) window.__seen[li.dataset.id] = Date.now();
    }).observe(document.querySelector('.messages'), { childList: true, subtree: true });
  });
  const words = 'konsol testi ' + Date.now();
  const posted = Date.now();
  await fake('/_control/human', { chat_id: Number(CHAT), text: words, from: 'ayse' });
  const human = await page.waitForFunction((w) => { const e = [...document.querySelectorAll('.msg.human')].find((x) => x.querySelector('.text').textContent === w); return e && e.dataset.id; }, { timeout: 10000 }, words);
  const answer = await page.waitForFunction((w) => { const e = [...document.querySelectorAll('.msg.reply')].find((x) => x.querySelector('.quote') && x.querySelector('.quote').textContent.includes(w)); return e && e.dataset.id; }, { timeout: 30000 }, words)
    .catch(async (e) => {
      // what the chat holds, to tell "no answer" from "an answer not shown under it"
      const last = items((await fetchIn('GET', `/api/v1/messages?chat=${CHAT}&limit=8`)).json)
        .map((m) => `#${m.id} bot=${m.bot_id} ${m.status} tg=${m.telegram_message_id} reply_to=${m.reply_to_message_id} ${String(m.text).slice(0, 30)}`);
      const dead = items((await fetchIn('GET', '/api/v1/dead?limit=3')).json).map((d) => d.reason);
      throw new Error(`${e.message}; newest rows: ${last.join(' | ')}; dead letters: ${dead.join(' | ')}`);
    });
  // each within 1 s of being written: from its row's created_at to its first
  // showing; a human's created_at is Telegram's date (whole seconds), so its
  // write is bounded by the fake's receipt instead (which adds the bots' poll)
  const ids = [await human.jsonValue(), await answer.jsonValue()];
  const seen = await page.evaluate(() => window.__seen);
  const rows = items((await fetchIn('GET', `/api/v1/messages?chat=${CHAT}&limit=50`)).json);
  for (const [what, id] of [['the human\'s message', ids[0]], ['the answer', ids[1]]]) {
    const row = rows.find((r) => String(r.id) === id);
    const lag = seen[id] - (id === ids[0] ? posted : Date.parse(row.created_at));
    console.log(`       (${what} shown ${lag} ms after it was written)`);
    must(lag <= 1000, `${what} shown ${lag} ms after it was written`);
  }
  must(rows.find((r) => String(r.id) === ids[1]).reply_to_message_id === rows.find((r) => String(r.id) === ids[0]).telegram_message_id,
    'the answer shown under the human\'s message does not answer it');
  await shot('chat');
});

await check('the live chat loads older messages on scroll, and filters by bot', async () => {
  const n = () => count('.messages li.msg');
  const before = await n();
  must(before >= 50, `only ${before} messages shown (the chat has hundreds)`);
  await page.$eval('.messages', (e) => { e.scrollTop = 0; });
  await waitFor(async () => (await n()) > before, 5000, 'older messages');
  await page.select('#bot-filter', await page.$eval('#bot-filter option:nth-child(2)', (o) => o.value));
  const name = await page.$eval('#bot-filter', (s) => s.selectedOptions[0].textContent);
  await waitFor(async () => {
    const authors = await page.$$eval('.messages li.msg .author', (l) => l.map((e) => e.textContent));
    return authors.length > 0 && authors.every((a) => a === name);
  }, 5000, `only ${name}'s messages`);
  await shot('chat-filtered');
});

await check('a persona with a bad value shows the error at the field and saves nothing', async () => {
  const list = await fetchIn('GET', '/api/v1/bots');
  if (list.status === 404 && !(await gate('persona edit', '/api/v1/bots'))) return 'not run';
  const bots = Array.isArray(list.json) ? list.json : list.json.items || list.json.bots || [];
  const bot = bots[0];
  await go('#/bots');
  await page.waitForSelector('table[aria-label=Bots] tbody tr');
  await shot('bots');
  await go('#/bots/' + bot.id);
  const f = '[data-field="emotion_profile.empathy"] input';
  await page.waitForSelector(f);
  const was = (await fetchIn('GET', '/api/v1/bots/' + bot.id)).json;
  await page.$eval(f, (e) => { e.value = ''; });
  await page.type(f, '7');
  await page.click('.object-form button[type=submit]');
  await page.waitForSelector('[data-field="emotion_profile.empathy"] .field-error');
  const now = (await fetchIn('GET', '/api/v1/bots/' + bot.id)).json;
  must(JSON.stringify(now.emotion_profile) === JSON.stringify(was.emotion_profile), 'the bad value was stored');
  await page.$eval('[data-field="emotion_profile.empathy"]', (e) => e.scrollIntoView({ block: 'center' }));
  await shot('bot-error');
  await page.$eval(f, (e) => { e.value = ''; });
  await page.type(f, '0.9');
  await page.click('.object-form button[type=submit]');
  await page.waitForSelector('.object-form .saved');
  const saved = (await fetchIn('GET', '/api/v1/bots/' + bot.id)).json;
  must(saved.emotion_profile && saved.emotion_profile.empathy === 0.9, 'the fixed value was not stored');
  // the next message of that bot is built from the new persona (its worker has
  // it cached from the jobs above: the bot change notice makes it read again)
  const mark = 'risk' + Date.now();
  const rf = '[data-field="persona_profile.risk_profile"] input';
  await page.$eval(rf, (e) => { e.value = ''; });
  await page.type(rf, mark);
  await page.click('.object-form button[type=submit]');
  await waitFor(async () => ((await fetchIn('GET', '/api/v1/bots/' + bot.id)).json.persona_profile || {}).risk_profile === mark, 5000, 'the persona saved');
  const t = Date.now();
  await execFileAsync(path.join(BIN, 'piyasactl'), ['enqueue', '--chat', CHAT, '--bot', String(bot.id)]);
  await waitFor(async () => JSON.stringify(await fake('/_prompts')).includes(mark), 5000, 'a prompt with the edited persona');
  console.log(`       (the edited persona in the next prompt after ${Date.now() - t} ms)`);
});

await check('a dead letter retried from the page is sent', async () => {
  const bot = process.env.CONSOLE_DEAD_BOT;
  const sentOf = async () => items((await fetchIn('GET', `/api/v1/messages?bot=${bot}&status=sent&limit=1000`)).json).length;
  const before = await sentOf();
  await go('#/dead');
  await page.waitForSelector('table[aria-label="Dead letters"] tbody tr');
  const row = await waitFor(async () => {
    const rows = await page.$$('table[aria-label="Dead letters"] tbody tr');
    for (const r of rows) if (/502 five times/.test(await r.evaluate((e) => e.textContent))) return r;
    return null;
  }, 5000, 'the dead letter listed');
  await (await row.$('button[aria-expanded]')).click(); // Show
  await page.waitForSelector('[data-dead] pre.json');
  must(/"kind": "speak"/.test(await text('[data-dead] pre.json')), 'the job is not shown');
  await shot('dead');
  await (await row.$('input[type=checkbox]')).click();
  await page.waitForSelector('.bulk button');
  await page.click('.bulk button'); // Retry the ticked one
  await confirmDialog();
  await page.waitForFunction(() => /1 sent back to their queues/.test((document.querySelector('main .saved') || {}).textContent || ''));
  await waitFor(async () => (await sentOf()) > before, 20000, 'the retried job sent', 500);
});

// Every control a page offers has a name a screen reader reads (a label, or
// aria-label); the names of those that have none.
const unlabelled = () => page.$$eval('main input, main select, main textarea, main button', (l) => l
  .filter((e) => e.checkVisibility() && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
  .map((e) => e.outerHTML.slice(0, 80)));

await check('every control of every page is labelled', async () => {
  for (const hash of ['#/', '#/chat/' + CHAT, '#/bots', '#/chats', '#/chats/' + CHAT, '#/settings', '#/dead', '#/control', '#/users', '#/audit']) {
    await go(hash);
    await page.waitForSelector('main h1');
    await sleep(500);
    const bad = await unlabelled();
    must(!bad.length, `${hash}: ${bad.join(' ')}`);
  }
});

await check('changing a user\'s role asks first; cancelled, nothing changes', async () => {
  await go('#/users');
  await page.waitForSelector('select[aria-label="Role of victor"]');
  await page.select('select[aria-label="Role of victor"]', 'operator');
  await page.waitForSelector('dialog[open]');
  must(/Make victor a operator|Make victor an? operator/.test(await text('dialog[open] h2')), `the dialog asks: ${await text('dialog[open] h2')}`);
  await page.click('dialog[open] button:not([data-confirm])');
  await page.waitForFunction(() => !document.querySelector('dialog[open]'));
  const users = items((await fetchIn('GET', '/api/v1/users')).json);
  must(users.find((u) => u.name === 'victor').role === 'viewer', 'the role changed without a confirmation');
  await page.waitForFunction(() => document.querySelector('select[aria-label="Role of victor"]').value === 'viewer');
});

await check('the other pages open without an error', async () => {
  for (const [hash, name, sel] of [['#/chats', 'chats', 'h1'], ['#/users', 'users', 'h1'], ['#/audit', 'audit', 'h1'], ['#/bots', 'bots', 'h1']]) {
    await go(hash);
    await page.waitForSelector(sel);
    await sleep(400);
    await shot(name);
  }
});

await check('at phone width the pages fit, with a menu', async () => {
  // width only: isMobile would make puppeteer reload the page, racing the navigation below
  await page.setViewport({ width: 390, height: 844 });
  await go('#/');
  await page.waitForSelector('[data-card=fleet] tbody tr');
  must(await page.$eval('.nav-toggle', (e) => getComputedStyle(e).display !== 'none'), 'no menu button');
  await shot('dashboard-phone');
  // nothing wider than the phone on the busiest pages
  for (const hash of ['#/', '#/chat/' + CHAT, '#/settings', '#/bots/1', '#/dead']) {
    await go(hash);
    await page.waitForSelector('main h1');
    await sleep(500);
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    must(w <= 390, `${hash} is ${w} px wide at phone width`);
  }
  await go('#/chat/' + CHAT);
  await page.waitForSelector('.msg');
  await shot('chat-phone');
  await page.setViewport({ width: 1360, height: 900 });
});

await check('a viewer is offered no control, and a forged request is refused', async () => {
  await go('#/');
  await logout();
  await login('viewer');
  must((await count('.nav a[href="#/users"]')) === 0 && (await count('.nav a[href="#/audit"]')) === 0, 'a viewer is offered Users or Audit');
  await go('#/control');
  await page.waitForSelector('[data-card=simulation]');
  must((await visible('main button')) === 0, 'a viewer sees buttons on Control');
  await shot('viewer-control');
  await go('#/settings');
  await page.waitForSelector('[data-setting]');
  must((await visible('main form button')) === 0, 'a viewer is offered Apply');
  must(await page.$$eval('[data-setting] input', (l) => l.every((e) => e.disabled)), 'a viewer can edit a setting');
  const forged = await fetchIn('PATCH', '/api/v1/control', { simulation_active: true });
  must(forged.status === 403, `a viewer's PATCH /control answered ${forged.status}`);
  const noCsrf = await fetchIn('PUT', '/api/v1/settings/reply_probability', { value: 0.1 }, false);
  must(noCsrf.status === 403, `a PUT without the CSRF token answered ${noCsrf.status}`);
  const c = await fetchIn('GET', '/api/v1/control');
  must(c.json && c.json.simulation_active === false, 'the forged request changed the control');
});

await check('no CSP violation or script error on any page', async () => {
  const csp = await page.evaluate(() => window.__csp || []);
  must(!csp.length && !problems.length, [...csp, ...problems].join('; '));
});

await browser.close();
console.log(`console.mjs: ${passed} checks passed in ${((Date.now() - t0) / 1000).toFixed(1)} s` +
  (notRun.length ? `; NOT RUN: ${notRun.join(', ')}` : ''));
process.exit(0);
