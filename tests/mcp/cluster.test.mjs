// Several hosts behind nginx, for real (issue 18, docs/deployment.md): a throwaway PostgreSQL
// cluster, three `toolhost serve` processes sharing it (TOOLHOST_DATABASE_URL: the memory,
// escalation and crm tools' storage, and the 2025-era MCP sessions), nginx in front with
// conf/nginx/toolhost-cluster.conf. Clients of both MCP eras (the TypeScript SDK v1 client with
// 2025 sessions, the v2 client pinned to 2026-07-28) store memories, open tickets with
// idempotency keys and upsert customers through nginx while one host is SIGKILLed (and started
// again) and PostgreSQL is restarted. Then: no acknowledged write is lost, no ticket is
// duplicated, every host sees every acknowledged store, the sessions of the killed host went on
// elsewhere, and the clients saw only retryable errors.
//
//   node cluster.test.mjs TOOLHOST_EXE PLUGIN_DIR WORK_DIR      (tests/mcp/CMakeLists.txt)
//
// Logs of the last run (hosts, nginx, PostgreSQL) stay in WORK_DIR.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';

import { clusterConf, freePort, postgresUnavailable, startHost, startNginx, startPostgres } from './cluster_support.mjs';
import { sleep, until } from './sdk_test_support.mjs';

const [toolhost, bundledPlugins, work] = process.argv.slice(2);
if (!toolhost || !bundledPlugins || !work) {
  console.error('usage: node cluster.test.mjs TOOLHOST_EXE PLUGIN_DIR WORK_DIR');
  process.exit(2);
}
const unavailable = postgresUnavailable();
if (unavailable) {
  console.error(`SKIPPED: ${unavailable}`);
  process.exit(77);
}
const source = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const nginxConf = path.join(source, 'conf/nginx/toolhost-cluster.conf');

const NODES = ['host1', 'host2', 'host3'];
const TOOLS = ['memory', 'escalation', 'crm'];
// What a client may see while a host or the database is away, and try again after.
const RETRYABLE_CODES = new Set(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'ABORTED', 'RESOURCE_EXHAUSTED']);
const RETRYABLE_TRANSPORT = /HTTP (502|503|504)|50[234] (Bad Gateway|Service Unavailable|Gateway Time-out)|fetch failed|ECONNRESET|ECONNREFUSED|socket hang up|other side closed|terminated|UND_ERR|network/i;
const SESSION_GONE = /HTTP 404|Session not found/i;

let pg;
let password;
const hosts = [];
let balancer;
let env;
let configFile;

function hostArgs(i) {
  return ['--config', configFile, '--no-default-plugins', '--plugin-dir', path.join(work, `plugins-${NODES[i]}`)];
}

async function startNode(i, port) {
  return startHost(toolhost, hostArgs(i), {
    port, cwd: work, env: { ...env, TOOLHOST_NODE_ID: NODES[i] }, logFile: path.join(work, `${NODES[i]}.log`),
  });
}

before(async () => {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  pg = await startPostgres(path.join(work, 'postgres'));
  pg.psql('CREATE DATABASE toolhost');
  // Trust authentication ignores the password; it is there to show that no report repeats it.
  password = 'not-to-be-shown';
  const url = pg.url('toolhost').replace('postgres@', `postgres:${password}@`);
  env = { ...process.env, TOOLHOST_DATABASE_URL: url };
  // Each host its own plugin folder (links to the bundled tools), so that one can change alone.
  for (const node of NODES) {
    const dir = path.join(work, `plugins-${node}`);
    fs.mkdirSync(dir);
    for (const t of TOOLS) fs.symlinkSync(path.join(bundledPlugins, `${t}.so`), path.join(dir, `${t}.so`));
  }
  configFile = path.join(work, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({
    plugin_dirs: [],
    data_dir: path.join(work, 'data'),
    log_level: 'info',
    // A breaker that a database restart opened lets a probe through after 2 s rather than 30 s
    // (docs/deployment.md, "A database that goes away").
    resilience: { circuit_breaker: { consecutive_failures: 5, open_ms: 2000 } },
    tools: {
      memory: { config: { sample_data: false } },
      crm: { config: { sample_data: false } },
    },
    serve: { plugin_rescan_ms: 100, plugin_quiet_ms: 100, http: { drain_delay_ms: 0 } },
  }, null, 2));
  const ports = [await freePort(), await freePort(), await freePort()];
  // One at a time the first time: the first one migrates (the others would wait for its lock).
  for (let i = 0; i < NODES.length; ++i) hosts.push(await startNode(i, ports[i]));
  const port = await freePort();
  balancer = await startNginx(path.join(work, 'nginx'), clusterConf(nginxConf, port, ports), port);
});

after(async () => {
  balancer?.stop();
  await Promise.all(hosts.map((h) => h.stop()));
  pg?.destroy();
});

async function readyz(base) {
  const r = await fetch(`${base}/readyz`);
  return { status: r.status, body: await r.json() };
}

async function consoleStatus(base) {
  const r = await fetch(`${base}/v1/admin/status`);
  assert.equal(r.status, 200);
  return r.json();
}

function text(result) {
  return result.content?.map((c) => c.text ?? '').join('\n') ?? '';
}

// A client of one era through `url`, with what it went through.
async function connect(era, url) {
  if (era === '2025') {
    const client = new ClientV1({ name: 'cluster-test', version: '1.0.0' }, { capabilities: {} });
    client.onerror = () => {};  // the GET stream's breaks while a host is away
    const transport = new TransportV1(new URL(`${url}/mcp`));
    await client.connect(transport);
    return { client, sessionId: () => transport.sessionId };
  }
  const client = new ClientV2({ name: 'cluster-test', version: '1.0.0' },
    { capabilities: {}, versionNegotiation: { mode: { pin: '2026-07-28' } } });
  client.onerror = () => {};
  await client.connect(new TransportV2(new URL(`${url}/mcp`)));
  return { client, sessionId: () => undefined };
}

class Fatal extends Error {}

// Calls `name` with `args` until it succeeds, the same arguments every time (idempotency keys
// make a repeat safe). Retryable failures are counted in `w.seen`; anything else fails the test.
async function call(w, name, args) {
  for (let attempt = 1; ; ++attempt) {
    if (attempt > 400) throw new Fatal(`${name}: still failing after ${attempt - 1} attempts: ${JSON.stringify(w.seen)}`);
    let r;
    try {
      r = await w.conn.client.callTool({ name, arguments: args });
    } catch (e) {
      const message = String(e?.message ?? e);
      if (SESSION_GONE.test(message)) {
        // The session is gone (its host died before it was shared): initialize again, as the
        // specification says.
        w.seen.session_gone = (w.seen.session_gone ?? 0) + 1;
        try { await w.conn.client.close(); } catch { /* already closed */ }
        try { w.conn = await connect(w.era, w.base ?? balancer.base); } catch (again) {
          if (!RETRYABLE_TRANSPORT.test(String(again?.message ?? again))) throw new Fatal(`re-initialize: ${again}`);
        }
      } else if (RETRYABLE_TRANSPORT.test(message) || /timed out|timeout/i.test(message)) {
        w.seen.transport = (w.seen.transport ?? 0) + 1;
      } else {
        throw new Fatal(`${name} ${JSON.stringify(args)}: ${message}`);
      }
      await sleep(Math.min(20 * attempt, 250));
      continue;
    }
    if (r.isError) {
      const code = r._meta?.['toolhost/error']?.code;
      if (!RETRYABLE_CODES.has(code)) throw new Fatal(`${name} ${JSON.stringify(args)}: ${code}: ${text(r)}`);
      w.seen[code] = (w.seen[code] ?? 0) + 1;
      await sleep(Math.min(20 * attempt, 250));
      continue;
    }
    return r.structuredContent ?? JSON.parse(text(r));
  }
}

// One client's work until `stop()`: a memory, a ticket and an upsert per round, a recall now and then.
async function worker(w, stop) {
  for (let i = 0; !stop(); ++i) {
    const m = await call(w, 'memory_store',
      { session_id: w.name, content: `note ${i} from ${w.name} about the invoice`, idempotency_key: `${w.name}-m${i}` });
    w.memories.set(`${w.name}-m${i}`, m.id);
    const t = await call(w, 'escalation_create_ticket',
      { customer: w.name, subject: `issue ${i}`, idempotency_key: `${w.name}-t${i}` });
    w.tickets.set(`${w.name}-t${i}`, t.ticket.id);
    const name = `${w.name} round ${i}`;
    await call(w, 'crm_upsert', { email: `${w.name}@example.com`, name });
    w.lastName = name;
    if (i % 5 === 4) {
      const recalled = await call(w, 'memory_recall', { session_id: w.name, query: 'invoice', limit: 3 });
      assert.ok(recalled.memories.length > 0, `${w.name}: a recall found nothing`);
    }
  }
}

// Every memory of `session` through `reader` (a client as `call` takes it: a host that just saw
// the database go away may still answer UNAVAILABLE from its open breaker), by page.
async function allMemories(reader, session) {
  const out = [];
  let cursor;
  for (;;) {
    const page = await call(reader, 'memory_list', { session_id: session, limit: 100, ...(cursor ? { cursor } : {}) });
    out.push(...page.memories);
    cursor = page.next_cursor;
    if (!cursor) return out;
  }
}

async function allTickets(reader, customer) {
  const out = [];
  for (let offset = 0; ;) {
    const page = await call(reader, 'escalation_list_tickets', { customer, limit: 100, offset });
    out.push(...page.tickets);
    if (page.next_offset == null) return out;
    offset = page.next_offset;
  }
}

describe('three hosts behind nginx, one PostgreSQL', () => {
  test('each host reports its node, the same plugin set and the database, without its password', async () => {
    const states = await Promise.all(hosts.map((h) => readyz(h.base)));
    states.forEach((s, i) => {
      assert.equal(s.status, 200);
      assert.equal(s.body.node, NODES[i]);
      assert.match(s.body.database, new RegExp(`^postgresql 127\\.0\\.0\\.1:${pg.port}/toolhost$`));
      assert.ok(!JSON.stringify(s.body).includes(password));
    });
    assert.match(states[0].body.plugin_set, /^sha256:[0-9a-f]{16}$/);
    assert.ok(states.every((s) => s.body.plugin_set === states[0].body.plugin_set), 'the same plugins, the same digest');
    // The console of any host lists them all (from their heartbeats in the database).
    const status = await until('every host in host1\'s console', async () => {
      const s = await consoleStatus(hosts[0].base);
      return s.hosts.length === NODES.length && s;
    }, 20000);
    assert.deepEqual(status.hosts.map((h) => h.node), NODES);
    assert.deepEqual(status.hosts.map((h) => h.self), [true, false, false]);
    assert.ok(status.hosts.every((h) => h.plugin_set === states[0].body.plugin_set));
  });

  test('a tool list change on one host reaches the listeners of another, and shows as drift', async () => {
    const conn = await connect('2025', hosts[2].base);  // host3, directly
    let changed = 0;
    conn.client.setNotificationHandler(ToolListChangedNotificationSchema, () => { ++changed; });
    try {
      // The GET stream is open once host3 counts the session's stream (the SDK opens it after
      // initialize); then the echo plugin appears in host1's folder only.
      await sleep(300);
      const before = (await readyz(hosts[0].base)).body.plugin_set;
      const link = path.join(work, 'plugins-host1', 'echo.so');
      fs.symlinkSync(path.join(bundledPlugins, 'echo.so'), link);
      try {
        await until('host3\'s client to hear of host1\'s change', async () => changed > 0, 20000);
        const after = await until('host1 to serve echo', async () => {
          const s = (await readyz(hosts[0].base)).body;
          return s.tools.some((t) => t.name === 'echo') && s;
        });
        assert.notEqual(after.plugin_set, before, 'host1\'s plugin set changed');
        assert.notEqual(after.plugin_set, (await readyz(hosts[2].base)).body.plugin_set, 'drift is visible');
        assert.match(hosts[2].stderr(), /another host's tool list changed/);
        // host3's console shows host1 with its other plugin set (after host1's next heartbeat).
        await until('host1\'s new plugin set in host3\'s console', async () =>
          (await consoleStatus(hosts[2].base)).hosts.some((h) => h.node === 'host1' && h.plugin_set === after.plugin_set), 20000);
      } finally {
        fs.rmSync(link);
      }
      await until('host1 back to the common plugin set', async () =>
        (await readyz(hosts[0].base)).body.plugin_set === (await readyz(hosts[1].base)).body.plugin_set);
    } finally {
      await conn.client.close();
    }
  });

  test('a host SIGKILLed and PostgreSQL restarted under load: nothing acknowledged is lost or doubled', async () => {
    // 2025-era clients until at least one session lives on host2, the host that will be killed.
    const workers = [];
    for (let i = 0; i < 4; ++i)
      workers.push({ name: `v1-${i}`, era: '2025', conn: await connect('2025', balancer.base) });
    for (let tries = 0; !workers.some((w) => w.conn.sessionId()?.startsWith('host2.')) && tries < 20; ++tries) {
      await workers[0].conn.client.close();
      workers[0].conn = await connect('2025', balancer.base);
    }
    const onHost2 = workers.filter((w) => w.conn.sessionId()?.startsWith('host2.'));
    assert.ok(onHost2.length > 0, `no session opened on host2: ${workers.map((w) => w.conn.sessionId())}`);
    for (let i = 0; i < 2; ++i)
      workers.push({ name: `v2-${i}`, era: '2026', conn: await connect('2026', balancer.base) });
    for (const w of workers) Object.assign(w, { seen: {}, memories: new Map(), tickets: new Map(), lastName: null });
    await sleep(200);  // the sessions are in the database (written behind initialize)

    let stopping = false;
    const running = workers.map((w) => worker(w, () => stopping));
    const failed = Promise.all(running).catch((e) => e);
    const events = (async () => {
      await sleep(3000);
      hosts[1].kill('SIGKILL');
      await hosts[1].exited;
      await sleep(3000);
      hosts[1] = await startNode(1, hosts[1].port);  // the same port: nginx's upstream comes back
      await sleep(2000);
      pg.stop();  // as a crash: connections cut, nothing committed lost
      await sleep(1500);
      pg.start();
      await sleep(3000);
      stopping = true;
    })();
    await events;
    const outcome = await failed;
    if (outcome instanceof Error) throw outcome;
    for (const w of workers) console.log(`${w.name}: ${w.memories.size} rounds, retried after ${JSON.stringify(w.seen)}`);
    assert.ok(workers.some((w) => Object.keys(w.seen).length > 0), 'the failures were felt (else the test proved nothing)');

    // The killed host's sessions went on on another host: taken over from the database, not opened again.
    const logs = hosts.map((h) => h.stderr()).join('\n');
    assert.match(logs, /MCP session taken over from another host/);
    for (const w of onHost2) assert.equal(w.seen.session_gone ?? 0, 0, `${w.name}'s session had to be opened again`);

    // Every host sees every acknowledged store; no key made two memories or two tickets.
    for (const h of hosts) {
      const reader = { name: `reader of ${h.base}`, era: '2026', base: h.base, conn: await connect('2026', h.base), seen: {} };
      try {
        for (const w of workers) {
          const memories = await allMemories(reader, w.name);
          const byKey = new Map();
          for (const m of memories) {
            assert.ok(!byKey.has(m.idempotency_key), `two memories with key ${m.idempotency_key}`);
            byKey.set(m.idempotency_key, m.id);
          }
          for (const [key, id] of w.memories) assert.equal(byKey.get(key), id, `${h.base}: acknowledged memory ${key} (#${id})`);
          const tickets = await allTickets(reader, w.name);
          const ticketsByKey = new Map();
          for (const t of tickets) {
            assert.ok(!ticketsByKey.has(t.idempotency_key), `two tickets with key ${t.idempotency_key}`);
            ticketsByKey.set(t.idempotency_key, t.id);
          }
          for (const [key, id] of w.tickets) assert.equal(ticketsByKey.get(key), id, `acknowledged ticket ${key} (#${id})`);
          // At most one unacknowledged write per worker: the one under way when the run stopped
          // is acknowledged too (the loop ends after a round), so the counts are equal.
          assert.equal(tickets.length, w.tickets.size, `${w.name}: tickets`);
          assert.equal(memories.length, w.memories.size, `${w.name}: memories`);
          const c = await call(reader, 'crm_get_customer', { email: `${w.name}@example.com` });
          assert.equal(c.customer.name, w.lastName, `${w.name}: the last acknowledged upsert`);
        }
      } finally {
        await reader.conn.client.close();
      }
    }
    await Promise.all(workers.map((w) => w.conn.client.close().catch(() => {})));
  });
});
