// The operator's console (GET /admin, polling GET /v1/admin/status) in a real browser: Debian's
// Chromium driven by playwright-core, against real `toolhost serve --http` processes serving the
// testkit fixture, the bundled echo plugin and a fixture the loader refuses.
//
//   node --test-reporter=spec console.test.mjs TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN REJECTED_PLUGIN WORK_DIR
//
// (tests/console/CMakeLists.txt; run the file itself, as above, not through `node --test FILE`,
// which would turn the skip below into a failure.) Exits 77 with a SKIPPED line when
// playwright-core is not in tests/console/node_modules (scripts/setup-deps.sh) or /usr/bin/chromium
// is missing. The configuration, plugin folder, server logs and screenshots of the last run stay in
// WORK_DIR: console-healthy.png, console-failing.png, console-auth.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 15000;  // generous bounds on waits; nothing here asserts a timing
const TOKEN = 'secret-token-1';

const [toolhost, testkit, echo, rejected, workArg] = process.argv.slice(2);
if (!toolhost || !testkit || !echo || !rejected || !workArg) {
  console.error(`usage: ${path.basename(process.argv[1])} TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN REJECTED_PLUGIN WORK_DIR`);
  process.exit(2);
}
if (!fs.existsSync(path.join(here, 'node_modules', 'playwright-core', 'package.json'))) {
  console.error(`SKIPPED: playwright-core is not installed in ${here}/node_modules; run scripts/setup-deps.sh`);
  process.exit(77);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`SKIPPED: no ${CHROMIUM} (Debian's chromium package; run scripts/setup-deps.sh)`);
  process.exit(77);
}
for (const f of [toolhost, testkit, echo, rejected]) {
  if (!fs.existsSync(f)) {
    console.error(`FAILED: ${f} does not exist (build the toolhost, fixture_testkit, echo and fixture_bad_schema targets)`);
    process.exit(1);
  }
}
const { chromium } = await import('playwright-core');

// ------------------------------------------------------------------------------ work folder
// A fresh work folder with copies of the three plugins (so that the paths the server reports are
// the folder's own) and one configuration per server.
fs.rmSync(workArg, { recursive: true, force: true });
fs.mkdirSync(workArg, { recursive: true });
const work = fs.realpathSync(workArg);
const pluginDir = path.join(work, 'plugins');
fs.mkdirSync(pluginDir);
for (const f of [testkit, echo, rejected]) fs.copyFileSync(f, path.join(pluginDir, path.basename(f)));
const rejectedPath = path.join(pluginDir, path.basename(rejected));

function writeConfig(name, dataDir) {
  const file = path.join(work, name);
  fs.writeFileSync(file, JSON.stringify({
    plugin_dirs: [pluginDir],
    data_dir: path.join(work, dataDir),
    log_level: 'warning',
    tools: {
      testkit_mt: {
        resilience: {
          retry: { max_attempts: 1 },
          // three failures in a row open it, for long enough that it stays open during the test
          circuit_breaker: { consecutive_failures: 3, open_ms: 600000, max_open_ms: 600000 },
        },
      },
    },
    serve: { http: { listen: '127.0.0.1:0' } },
  }, null, 2));
  return file;
}

// ---------------------------------------------------------------------------------- helpers
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

async function until(what, probe, limitMs = WAIT_MS) {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// `toolhost serve --config CONFIG --port-file ... --no-default-plugins` in work, stderr into
// work/<name>.log; stop() sends SIGTERM and waits (SIGKILL after 20 s).
const servers = [];
async function startServer(name, config, env = {}) {
  const portFile = path.join(work, `${name}.port`);
  const log = fs.openSync(path.join(work, `${name}.log`), 'w');
  const child = spawn(toolhost, ['serve', '--config', config, '--port-file', portFile, '--no-default-plugins'],
    { cwd: work, env: { ...process.env, TOOLHOST_AUTH_TOKEN: '', ...env }, stdio: ['ignore', 'ignore', log] });
  fs.closeSync(log);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = null;
  exited.then((s) => { gone = s; });
  const server = {
    name, child, exited,
    stop: async () => {
      if (gone) return gone;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20000);
      const s = await exited;
      clearTimeout(t);
      return s;
    },
  };
  servers.push(server);
  const port = await until(`${name}: the port file`, async () => {
    if (gone) {
      throw new Error(`${name}: toolhost serve exited (${JSON.stringify(gone)}) before it served:\n` +
                      fs.readFileSync(path.join(work, `${name}.log`), 'utf8'));
    }
    try {
      const p = fs.readFileSync(portFile, 'utf8').trim();
      return /^\d+$/.test(p) ? p : null;
    } catch {
      return null;
    }
  });
  server.port = port;
  server.base = `http://127.0.0.1:${port}`;
  return server;
}
process.on('exit', () => { for (const s of servers) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL'); });

async function post(base, route, body, headers = {}) {
  const res = await fetch(base + route, {
    method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

// page.waitForFunction with a bound, naming what it waited for and showing the server's status
// JSON when it gives up.
async function waitInPage(page, what, fn, arg) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT_MS, polling: 100 });
  } catch (e) {
    let status = '';
    try {
      status = await page.evaluate(async () => (await fetch('/v1/admin/status', { cache: 'no-store' })).text());
    } catch { /* the page is gone */ }
    throw new Error(`gave up waiting for ${what}: ${e.message}\nthe server's status now: ${status}`);
  }
}

// -------------------------------------------------------------------------------------- tests
let browser, server;
const pageErrors = [];
const screenshots = [];

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  server = await startServer('serve', writeConfig('config.json', 'var'));
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  for (const s of servers) {
    const st = await s.stop();
    // said, not failed: the console is what this test is about
    if (st.code !== 0) console.error(`${s.name}: toolhost serve ended with ${JSON.stringify(st)} (see ${s.name}.log)`);
  }
  for (const f of screenshots) console.log(`screenshot: ${f}`);
});

test('the console: healthy, then one failing tool, then its breaker reset from the page', async (t) => {
  const { base, port } = server;
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const foreign = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(`${base}/`) && !r.url().startsWith('data:')) foreign.push(r.url());
  });

  await t.test('GET / redirects to /admin, which is HTML', async () => {
    const res = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.match(res.headers.get('location') ?? '', /\/admin$/);
    const admin = await fetch(`${base}/admin`);
    assert.equal(admin.status, 200);
    assert.match(admin.headers.get('content-type') ?? '', /^text\/html/);
  });

  await t.test('healthy: node, version, the tools, no failing operation', async () => {
    const res = await page.goto(`${base}/admin`);
    assert.equal(res.status(), 200);
    await page.evaluate(() => { window.__consoleTestMarker = 'not reloaded'; });
    await waitInPage(page, 'the node name with the port', (p) =>
      (document.querySelector('[data-testid=node]')?.textContent ?? '').endsWith(`:${p}`), port);
    const version = (await page.locator('[data-testid=version]').textContent()).trim();
    assert.ok(version.length > 0, 'version shown');
    const cli = execFileSync(toolhost, ['--version'], { encoding: 'utf8' });  // "toolhost 0.9.0 (plugin ABI 1.1)"
    assert.ok(cli.includes(` ${version}`), `the page's version ${version} is that of \`toolhost --version\`: ${cli}`);
    for (const id of ['uptime', 'config-file', 'plugin-dirs', 'updated', 'summary']) {
      assert.ok((await page.locator(`[data-testid=${id}]`).textContent()).trim().length > 0, `${id} filled`);
    }
    assert.ok((await page.locator('[data-testid=plugin-dirs]').textContent()).includes(pluginDir));
    await waitInPage(page, 'the three tools ready and body data-health="ok"', () =>
      ['echo', 'testkit', 'testkit_mt'].every((n) => document.querySelector(`[data-testid=tool][data-tool="${n}"]`)?.dataset.state === 'ready') &&
      document.body.dataset.health === 'ok');
    assert.equal(await page.locator('[data-testid=op-row][data-state=failing]').count(), 0);
    assert.ok(await page.locator('[data-testid=op-row][data-tool=echo][data-operation=echo]').count() === 1);
    assert.equal(await page.locator('[data-testid=auth-error]').count(), 0);
    const file = path.join(work, 'console-healthy.png');
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
  });

  await t.test('load through REST opens testkit_mt\'s breaker', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await post(base, '/v1/tools/echo/echo', {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
    const fail = { code: 'INTERNAL', message: 'asked to fail' };
    for (let i = 0; i < 3; i++) {
      const r = await post(base, '/v1/tools/testkit_mt/fail', fail);
      assert.equal(r.body.error?.code, 'INTERNAL', JSON.stringify(r.body));
    }
    for (let i = 0; i < 5; i++) {  // short-circuited by the open breaker
      const r = await post(base, '/v1/tools/testkit_mt/fail', fail);
      assert.equal(r.body.error?.code, 'UNAVAILABLE', JSON.stringify(r.body));
    }
  });

  await t.test('the page shows it, without a reload', async () => {
    await waitInPage(page, 'testkit_mt/fail as the first op-row, data-state="failing"', () => {
      const r = document.querySelector('[data-testid=op-row]');
      return r?.dataset.tool === 'testkit_mt' && r.dataset.operation === 'fail' && r.dataset.state === 'failing';
    });
    await waitInPage(page, 'its error rate "100 %" and short-circuited > 0', () => {
      const r = document.querySelector('[data-testid=op-row]');
      return r.querySelector('[data-testid=op-error-rate]')?.textContent.trim() === '100 %' &&
        Number.parseInt(r.querySelector('[data-testid=op-short-circuited]')?.textContent ?? '', 10) > 0;
    });
    const row = page.locator('[data-testid=op-row]').first();
    assert.equal(await row.locator('[data-testid=op-sparkline]').evaluate((e) => e.tagName.toLowerCase()), 'svg');
    for (const p of ['p50', 'p95', 'p99']) {
      assert.match(await row.locator(`[data-testid=op-${p}]`).textContent(), /^\s*(—|[\d.]+ (µs|ms|s))\s*$/);
    }
    await waitInPage(page, 'the breaker of testkit_mt data-state="open"', () =>
      document.querySelector('[data-testid=breaker][data-tool=testkit_mt][data-operation=""]')?.dataset.state === 'open');
    const breaker = page.locator('[data-testid=breaker][data-tool=testkit_mt][data-operation=""]');
    assert.match(await breaker.locator('[data-testid=breaker-state]').textContent(), /OPEN/);
    assert.match(await breaker.locator('[data-testid=breaker-next-probe]').textContent(), /next probe in/);
    await waitInPage(page, `the rejection of ${path.basename(rejected)} with a reason`, (base) =>
      [...document.querySelectorAll('[data-testid=rejection]')].some((r) => r.dataset.path.endsWith(`/${base}`) &&
        (r.querySelector('[data-testid=rejection-reason]')?.textContent.trim() ?? '').length > 0), path.basename(rejected));
    await waitInPage(page, 'an error row for testkit_mt/fail, INTERNAL "asked to fail"', () =>
      [...document.querySelectorAll('[data-testid=error][data-tool=testkit_mt][data-operation=fail][data-status=INTERNAL]')]
        .some((r) => r.querySelector('[data-testid=error-message]')?.textContent === 'asked to fail' &&
          /\d+ s ago|just now/.test(r.querySelector('[data-testid=error-time]')?.textContent ?? '') &&
          !Number.isNaN(Date.parse(r.querySelector('[data-testid=error-time]')?.title ?? '')) &&
          (r.querySelector('[data-testid=error-request-id]')?.textContent ?? '').length > 0));
    await waitInPage(page, 'body data-health="failing"', () => document.body.dataset.health === 'failing');
    assert.equal(await page.evaluate(() => window.__consoleTestMarker), 'not reloaded');
    const file = path.join(work, 'console-failing.png');
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
  });

  await t.test('reset from the page, after a confirmation', async () => {
    const breaker = page.locator('[data-testid=breaker][data-tool=testkit_mt][data-operation=""]');
    // "no" first: nothing happens
    await breaker.locator('[data-testid=breaker-reset]').click();
    const confirm = page.locator('[data-testid=confirm]');
    await confirm.waitFor({ state: 'visible', timeout: WAIT_MS });
    await confirm.locator('[data-testid=confirm-no]').click();
    await confirm.waitFor({ state: 'hidden', timeout: WAIT_MS });
    assert.equal(await breaker.getAttribute('data-state'), 'open');

    await breaker.locator('[data-testid=breaker-reset]').click();
    await confirm.waitFor({ state: 'visible', timeout: WAIT_MS });
    const text = await confirm.textContent();
    assert.match(text, /testkit_mt/, 'the confirmation names the breaker');
    assert.match(text, /reset/i, 'the confirmation names the action');
    await confirm.locator('[data-testid=confirm-yes]').click();
    await waitInPage(page, 'the breaker of testkit_mt data-state="closed"', () =>
      document.querySelector('[data-testid=breaker][data-tool=testkit_mt][data-operation=""]')?.dataset.state === 'closed');
    assert.equal(await page.locator('[data-testid=action-error]').count(), 0);
    assert.equal(await page.evaluate(() => window.__consoleTestMarker), 'not reloaded');

    const res = await fetch(`${base}/v1/circuit-breakers`);
    const list = (await res.json()).circuit_breakers;
    const b = list.find((x) => x.tool === 'testkit_mt' && x.operation === null);
    assert.equal(b?.state, 'closed', JSON.stringify(list));
  });

  assert.deepEqual(foreign, [], 'the page loads nothing from elsewhere');
  assert.deepEqual(pageErrors, [], 'no script error in the page');
  await context.close();
});

test('with a token: 401 and Basic, then the console with credentials', async (t) => {
  const secured = await startServer('serve-auth', writeConfig('config-auth.json', 'var-auth'), { TOOLHOST_AUTH_TOKEN: TOKEN });
  const { base, port } = secured;
  const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

  await t.test('over HTTP', async () => {
    const anon = await fetch(`${base}/admin`);
    assert.equal(anon.status, 401);
    assert.match(anon.headers.get('www-authenticate') ?? '', /Basic/);
    assert.equal((await fetch(`${base}/v1/admin/status`)).status, 401);
    const wrong = await fetch(`${base}/admin`, { headers: { Authorization: basic('admin', 'not-the-token') } });
    assert.equal(wrong.status, 401);
    const bearer = await fetch(`${base}/admin`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(bearer.status, 200);
    assert.match(await bearer.text(), /data-testid="operations"/);
    const status = await fetch(`${base}/v1/admin/status`, { headers: { Authorization: basic('admin', TOKEN) } });
    assert.equal(status.status, 200);
    assert.ok((await status.json()).node.endsWith(`:${port}`));
  });

  await t.test('a browser without credentials does not see the console', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    // A person would be asked for credentials; playwright answers the Basic challenge with none,
    // so the 401 arrives and then the navigation fails (net::ERR_INVALID_AUTH_CREDENTIALS).
    const statuses = [];
    page.on('response', (r) => { if (new URL(r.url()).pathname === '/admin') statuses.push(r.status()); });
    try {
      await page.goto(`${base}/admin`);
    } catch (e) {
      if (!/ERR_INVALID_AUTH_CREDENTIALS/.test(e.message)) throw e;
    }
    await page.waitForLoadState();
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 401), `GET /admin answered ${JSON.stringify(statuses)}`);
    assert.equal(await page.locator('[data-testid=node]').count(), 0);
    await context.close();
  });

  await t.test('a browser with credentials sees it, and its polling works', async () => {
    const context = await browser.newContext({
      viewport: { width: 1440, height: 900 }, httpCredentials: { username: 'admin', password: TOKEN },
    });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const res = await page.goto(`${base}/admin`);
    assert.equal(res.status(), 200);
    await waitInPage(page, 'the node name with the port', (p) =>
      (document.querySelector('[data-testid=node]')?.textContent ?? '').endsWith(`:${p}`), port);
    await waitInPage(page, 'the tools listed', () => document.querySelectorAll('[data-testid=tool]').length >= 3);
    // two polls later, still authorized
    const polls = [];
    page.on('response', (r) => { if (r.url().endsWith('/v1/admin/status')) polls.push(r.status()); });
    await until('two more polls of the status', async () => polls.filter((s) => s === 200).length >= 2);
    assert.equal(await page.locator('[data-testid=auth-error]').count(), 0);
    const file = path.join(work, 'console-auth.png');
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
    await context.close();
  });
  assert.deepEqual(pageErrors, [], 'no script error in the page');
});
