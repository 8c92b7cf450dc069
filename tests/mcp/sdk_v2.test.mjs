// The official MCP TypeScript SDK v2 client (@modelcontextprotocol/client, tests/mcp/node_modules)
// pinned to revision 2026-07-28, the stateless era, against `toolhost serve --stdio` and
// `toolhost serve --http`, serving the testkit fixture (tests/fixtures/testkit.cpp, tool
// testkit_mt) and the bundled echo plugin: discovery, tools/list, tools/call (result, tool error,
// bad arguments, unknown tool, progress, cancellation, a tool asking the client through
// input_required), resources, templates, prompts and completion from the fixture's operation
// roles, subscriptions/listen hearing a plugin leave the folder, the same client in
// `auto` mode choosing 2026-07-28, over HTTP the revision's errors as raw requests (header
// mismatch, an unknown revision, an unknown method, GET), and two HTTP instances serving one
// client whose requests alternate between them.
//
//   node sdk_v2.test.mjs TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN WORK_DIR
//
// Run by ctest (mcp_sdk_v2, tests/mcp/CMakeLists.txt) with Node.js 22 from node_modules.
// Everything of the last run stays in WORK_DIR: config.json, the plugin folder, the servers'
// stderr (stdio.log, http.log). No assertion depends on timing; waits are bounded safety nets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { freePort, startNginx } from './cluster_support.mjs';
import { sdkTestArgs, standardServer, startHttpServer, until } from './sdk_test_support.mjs';

const args = sdkTestArgs();
const { toolhost, work } = args;
const REVISION = '2026-07-28';

// ------------------------------------------------------------------------------------ set-up

const serverArgs = standardServer(args);

// The client, what it reported to onerror, and the elicitations it answered (accepting with a
// name).
function makeClient(mode = { pin: REVISION }) {
  const client = new Client({ name: 'toolhost-sdk-v2-test', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode } });
  client.sdkErrors = [];
  client.onerror = (e) => { client.sdkErrors.push(String(e?.message ?? e)); };
  client.elicited = [];
  client.setRequestHandler('elicitation/create', async (request) => {
    client.elicited.push(request.params);
    return { action: 'accept', content: { name: 'Ada' } };
  });
  return client;
}

const text = (result) => {
  assert.ok(Array.isArray(result.content) && result.content.length >= 1, `content blocks: ${JSON.stringify(result)}`);
  assert.equal(result.content[0].type, 'text');
  return result.content[0].text;
};

async function callOk(client, name, args, options) {
  const r = await client.callTool({ name, arguments: args }, options);
  assert.ok(!r.isError, `${name} failed: ${JSON.stringify(r)}`);
  return r;
}

// ------------------------------------------------------------------------------------- cases

// The same checks over either transport. `ctx()` gives {client, log()} once connected; log()
// returns the server's stderr so far. `allProgressDelivered`: see the progress case.
function commonCases(ctx, { allProgressDelivered }) {
  test('the client speaks 2026-07-28 with toolhost, no handshake', () => {
    const { client } = ctx();
    assert.equal(client.getNegotiatedProtocolVersion(), REVISION);
    const discovered = client.getDiscoverResult();
    assert.ok(discovered, 'server/discover was answered');
    assert.deepEqual(discovered.supportedVersions, ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
    assert.ok(discovered.capabilities.tools, JSON.stringify(discovered.capabilities));
    assert.equal(client.getServerVersion().name, 'toolhost');
  });

  test('server/discover again, explicitly', async () => {
    const { client } = ctx();
    const d = await client.discover();
    assert.ok(d.supportedVersions.includes(REVISION), JSON.stringify(d));
  });

  test('tools/list: names, schemas, annotations', async () => {
    const { client } = ctx();
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((t) => [t.name, t]));
    for (const n of ['echo_echo', 'testkit_mt_progress', 'testkit_mt_wait_cancel', 'testkit_mt_fail_unsafe']) {
      assert.ok(byName.has(n), `${n} is listed (got ${[...byName.keys()].join(', ')})`);
    }
    const e = byName.get('echo_echo');
    assert.deepEqual(e.outputSchema, { type: 'object' });
    assert.equal(e.annotations.readOnlyHint, true);
  });

  test('tools/call: structuredContent and text content', async () => {
    const { client } = ctx();
    const args = { message: 'hello', n: 42, nested: { list: [1, 'two', null, true] }, unicode: 'héllo ☃' };
    const r = await callOk(client, 'echo_echo', args);
    assert.deepEqual(r.structuredContent, args);
    assert.deepEqual(JSON.parse(text(r)), args);
  });

  test('tools/call: a tool error is a result with isError and "CODE: message"', async () => {
    const { client } = ctx();
    const r = await client.callTool({
      name: 'testkit_mt_fail_unsafe',
      arguments: { code: 'NOT_FOUND', message: 'no such customer' },
    });
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.equal(text(r), 'NOT_FOUND: no such customer');
  });

  test('tools/call: bad arguments are a result with isError naming what is wrong', async () => {
    const { client } = ctx();
    const r = await client.callTool({ name: 'testkit_mt_progress', arguments: { steps: 'three' } });
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.match(text(r), /^INVALID_ARGUMENT: .*steps/);
  });

  test('tools/call: an unknown tool is a JSON-RPC error', async () => {
    const { client } = ctx();
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /no_such_tool/);
  });

  test('progress: three notifications, sent before the result', async () => {
    const { client } = ctx();
    const progress = [];
    const errorsBefore = client.sdkErrors.length;
    const r = await callOk(client, 'testkit_mt_progress', { steps: 3 }, { onprogress: (p) => progress.push(p) });
    assert.deepEqual(r.structuredContent, { steps: 3 });
    // The SDK (v2 2.4.0 as v1 1.32.2, typescript-sdk issue #2580) handles notifications a
    // microtask after responses: over stdio the three notifications and the result arrive in one
    // pipe read, the result removes the handler first, and the notifications are reported to
    // onerror as "unknown token" instead. Over HTTP (SSE, one read per event) all reach onprogress.
    const late = client.sdkErrors.slice(errorsBefore)
      .filter((e) => /progress notification for an unknown token/.test(e))
      .map((e) => JSON.parse(e.slice(e.indexOf('{'))).params);
    if (allProgressDelivered) assert.equal(late.length, 0, JSON.stringify(late));
    assert.deepEqual([...progress, ...late].map((p) => [p.progress, p.total, p.message]),
      [[1, 3, 'step 1'], [2, 3, 'step 2'], [3, 3, 'step 3']]);
  });

  test('cancellation: the aborted call rejects, the server cancels it and stays healthy', async () => {
    const { client, log } = ctx();
    const stats = async () => (await callOk(client, 'testkit_mt_stats', {})).structuredContent.calls;
    const base = await stats();
    const controller = new AbortController();
    const pending = client.callTool({ name: 'testkit_mt_wait_cancel', arguments: {} }, { signal: controller.signal });
    pending.catch(() => {});
    let statsCalls = 1;
    await until('testkit_mt_wait_cancel to start', async () => (await stats()) - base - statsCalls++ >= 1);
    controller.abort('the test aborts');
    await assert.rejects(pending, (e) => {
      assert.match(String(e?.message ?? e), /abort/i);
      return true;
    });
    await until('the server to log the cancelled wait_cancel call',
      async () => /operation=wait_cancel .*status=CANCELLED/.test(log()));
    const r = await callOk(client, 'echo_echo', { after: 'cancel' });
    assert.deepEqual(r.structuredContent, { after: 'cancel' });
  });

  test('a tool asks the client (elicitation): input_required, the SDK answers and retries', async () => {
    const { client } = ctx();
    const before = client.elicited.length;
    const params = {
      message: 'What is your name?',
      requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
    };
    const r = await callOk(client, 'testkit_mt_ask_client', { method: 'elicitation/create', params });
    assert.equal(client.elicited.length, before + 1);
    assert.equal(client.elicited[before].message, params.message);
    assert.deepEqual(r.structuredContent, { status: 0, result: { action: 'accept', content: { name: 'Ada' } } });
  });

  test('calls in parallel', async () => {
    const { client } = ctx();
    const results = await Promise.all(Array.from({ length: 16 }, (_, i) => callOk(client, 'echo_echo', { i })));
    results.forEach((r, i) => assert.deepEqual(r.structuredContent, { i }));
  });

  test('resources and templates from a plugin: list (two pages), read, read a template, not found', async () => {
    const { client } = ctx();
    // Two pages (one per document); the SDK v2 client follows nextCursor itself.
    const listed = await client.listResources();
    assert.deepEqual(listed.resources.map((r) => r.uri), ['testkit://docs/a', 'testkit://docs/b']);
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.deepEqual(resourceTemplates.map((t) => t.uriTemplate), ['testkit://items/{id}']);
    assert.equal((await client.readResource({ uri: 'testkit://docs/a' })).contents[0].text, 'alpha');
    assert.equal((await client.readResource({ uri: 'testkit://items/42' })).contents[0].text, '{"id":"42"}');
    await assert.rejects(client.readResource({ uri: 'testkit://nothing' }), /Resource not found/);
  });

  test('prompts and completion from a plugin', async () => {
    const { client } = ctx();
    const { prompts } = await client.listPrompts();
    const greet = prompts.find((p) => p.name === 'testkit_mt_greet');
    assert.ok(greet, JSON.stringify(prompts));
    assert.deepEqual(greet.arguments.map((a) => [a.name, a.required]), [['name', true], ['style', false]]);
    const got = await client.getPrompt({ name: 'testkit_mt_greet', arguments: { name: 'Ada', style: 'formal' } });
    assert.equal(got.messages[0].content.text, 'Good day, Ada!');
    await assert.rejects(client.getPrompt({ name: 'nope', arguments: {} }), /unknown prompt/);
    const c = await client.complete({ ref: { type: 'ref/prompt', name: 'testkit_mt_greet' },
      argument: { name: 'style', value: 'fr' } });
    assert.deepEqual(c.completion.values, ['friendly']);
  });

  test('subscriptions/listen: a plugin leaving the folder is announced on the stream; close ends it', async () => {
    const { client } = ctx();
    const changes = [];
    client.setNotificationHandler('notifications/tools/list_changed', (n) => { changes.push(n); });
    const sub = await client.listen({ toolsListChanged: true, promptsListChanged: true });
    assert.deepEqual(sub.honoredFilter, { toolsListChanged: true, promptsListChanged: true });
    const listed = async () => (await client.listTools()).tools.map((t) => t.name);
    const link = path.join(work, 'plugins', path.basename(args.echo));
    fs.rmSync(link);
    try {
      await until('notifications/tools/list_changed', async () => changes.length >= 1);
      assert.ok(!(await listed()).includes('echo_echo'));
    } finally {
      fs.symlinkSync(path.resolve(args.echo), link);
    }
    await until('a second notifications/tools/list_changed', async () => changes.length >= 2);
    assert.ok((await listed()).includes('echo_echo'));
    await sub.close();
    await sub.closed;
    const r = await callOk(client, 'echo_echo', { after: 'listen' });
    assert.deepEqual(r.structuredContent, { after: 'listen' });
  });

  test('subscriptions/listen with resourceSubscriptions: the updates the tool announces, of those URIs only', async () => {
    const { client } = ctx();
    const updated = [];
    client.setNotificationHandler('notifications/resources/updated', (n) => { updated.push(n.params.uri); });
    const sub = await client.listen({ resourceSubscriptions: ['testkit://items/7', 'nothing://x'] });
    assert.deepEqual(sub.honoredFilter, { resourceSubscriptions: ['testkit://items/7'] });
    await callOk(client, 'testkit_mt_announce', { uri: 'testkit://items/8' });
    await callOk(client, 'testkit_mt_announce', { uri: 'testkit://items/7' });
    // Notices keep their order on the stream: items/8's would have come first.
    await until('notifications/resources/updated', async () => updated.length >= 1);
    assert.deepEqual(updated, ['testkit://items/7']);
    await sub.close();
    await sub.closed;
  });
}

// ------------------------------------------------------------------------------------- stdio

function stdioTransport(sink) {
  const transport = new StdioClientTransport({
    command: toolhost,
    args: ['serve', '--stdio', ...serverArgs],
    cwd: work,
    stderr: 'pipe',
  });
  transport.stderr.on('data', (d) => { sink.text += d; });
  return transport;
}

describe('stdio: toolhost serve --stdio, pinned to 2026-07-28', () => {
  let client;
  const stderr = { text: '' };
  before(async () => {
    client = makeClient();
    await client.connect(stdioTransport(stderr));
  });
  after(async () => {
    await client?.close();
    fs.writeFileSync(path.join(work, 'stdio.log'), stderr.text);
  });
  commonCases(() => ({ client, log: () => stderr.text }), { allProgressDelivered: false });
});

describe('stdio: the client in auto mode chooses 2026-07-28', () => {
  test('auto', async () => {
    const client = makeClient('auto');
    const stderr = { text: '' };
    await client.connect(stdioTransport(stderr));
    try {
      assert.equal(client.getNegotiatedProtocolVersion(), REVISION);
      const r = await callOk(client, 'echo_echo', { auto: true });
      assert.deepEqual(r.structuredContent, { auto: true });
    } finally {
      await client.close();
    }
  });
});

// -------------------------------------------------------------------------------------- HTTP

describe('HTTP: toolhost serve --http 127.0.0.1:0, pinned to 2026-07-28', () => {
  let client;
  let server;
  let url;
  before(async () => {
    server = await startHttpServer(toolhost, serverArgs, work);
    url = new URL(`${server.base}/mcp`);
    client = makeClient();
    await client.connect(new StreamableHTTPClientTransport(url));
  });
  after(async () => {
    await client?.close();
    server?.stop();
  });

  commonCases(() => ({ client, log: () => server.stderr() }), { allProgressDelivered: true });

  test('auto mode chooses 2026-07-28', async () => {
    const auto = makeClient('auto');
    await auto.connect(new StreamableHTTPClientTransport(url));
    try {
      assert.equal(auto.getNegotiatedProtocolVersion(), REVISION);
      assert.deepEqual((await callOk(auto, 'echo_echo', { auto: true })).structuredContent, { auto: true });
    } finally {
      await auto.close();
    }
  });

  // Raw requests: what the revision says a server answers to a client that gets it wrong.
  const meta = (version = REVISION) => ({
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientCapabilities': {},
  });
  async function post(body, headers) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  const headersOf = (method, version = REVISION, name) => ({
    'MCP-Protocol-Version': version,
    'Mcp-Method': method,
    ...(name ? { 'Mcp-Name': name } : {}),
  });

  test('a header that disagrees with the body: 400 HeaderMismatch', async () => {
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call',
      params: { name: 'echo_echo', arguments: {}, _meta: meta() } };
    let r = await post(call, headersOf('tools/call', REVISION, 'testkit_mt_stats'));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, -32020);
    assert.equal(r.body.id, 1);
    assert.match(r.body.error.message, /Mcp-Name/);
    r = await post(call, headersOf('tools/list', REVISION, 'echo_echo'));
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /Mcp-Method/);
    r = await post(call, headersOf('tools/call', '2025-11-25', 'echo_echo'));
    assert.equal(r.status, 400);
    assert.match(r.body.error.message, /MCP-Protocol-Version/);
    // A name outside plain ASCII comes base64-encoded, and still has to match.
    r = await post(call, headersOf('tools/call', REVISION, `=?base64?${Buffer.from('echo_echo').toString('base64')}?=`));
    assert.equal(r.status, 200);
    assert.equal(r.body.result.resultType, 'complete');
  });

  test('a revision the server does not speak: 400 UnsupportedProtocolVersion with the supported ones', async () => {
    const r = await post({ jsonrpc: '2.0', id: 'v', method: 'tools/list', params: { _meta: meta('2099-01-01') } },
      headersOf('tools/list', '2099-01-01'));
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, -32022);
    assert.equal(r.body.error.data.requested, '2099-01-01');
    assert.ok(r.body.error.data.supported.includes(REVISION), JSON.stringify(r.body));
  });

  test('an unknown method: 404 Method not found; GET: 405', async () => {
    const r = await post({ jsonrpc: '2.0', id: 2, method: 'ping', params: { _meta: meta() } }, headersOf('ping'));
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, -32601);
    // The status comes from the answer, whatever its id holds (the server reads past the id).
    for (const id of ['x","result":{', 'a\\",\\"result', '"', '\\', 12345678901234]) {
      const e = await post({ jsonrpc: '2.0', id, method: 'ping', params: { _meta: meta() } }, headersOf('ping'));
      assert.equal(e.status, 404, JSON.stringify(id));
      assert.deepEqual(e.body.id, id);
    }
    for (const id of ['x","error":{', '","error":', -7]) {
      const ok = await post({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: meta() } },
        headersOf('tools/list'));
      assert.equal(ok.status, 200, JSON.stringify(id));
      assert.deepEqual(ok.body.id, id);
    }
    const get = await fetch(url, { headers: { Accept: 'text/event-stream', 'MCP-Protocol-Version': REVISION } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  test('results carry resultType, the server identity and cache hints', async () => {
    const r = await post({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: meta() } },
      headersOf('tools/list'));
    assert.equal(r.status, 200);
    assert.equal(r.body.result.resultType, 'complete');
    assert.equal(r.body.result._meta['io.modelcontextprotocol/serverInfo'].name, 'toolhost');
    assert.equal(r.body.result.ttlMs, 0);
    assert.equal(r.body.result.cacheScope, 'private');
  });
});

// ---------------------------------------------------------------------------------- scale-out

// Two `toolhost serve --http` processes and a client whose successive requests alternate between
// them, as behind a load balancer without affinity: no request of the revision depends on the
// instance that served the one before. A tool that asks the client takes two rounds, each on
// another instance; the second instance accepts the first one's requestState because both have
// the same serve.mcp.request_state_secret (here TOOLHOST_MCP_STATE_SECRET), and refuses it without.
const elicitation = {
  method: 'elicitation/create',
  params: { message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } },
};

describe('HTTP: two instances, a client alternating between them', () => {
  // A client whose requests go to `servers` in turn; `reached` lists the port of each.
  async function alternatingClient(servers) {
    const ports = servers.map((s) => new URL(s.base).port);
    const reached = [];
    const alternate = (input, init) => {
      const u = new URL(input instanceof Request ? input.url : input);
      u.port = ports[reached.length % ports.length];
      reached.push(u.port);
      return fetch(u, init);
    };
    const client = makeClient();
    await client.connect(new StreamableHTTPClientTransport(new URL(`${servers[0].base}/mcp`), { fetch: alternate }));
    return { client, reached };
  }

  async function twoServers(name, env) {
    return [await startHttpServer(toolhost, serverArgs, work, `${name}-a.log`, env),
      await startHttpServer(toolhost, serverArgs, work, `${name}-b.log`, env)];
  }

  test('with one request_state_secret, any instance answers any request, rounds included', async () => {
    const servers = await twoServers('shared',
      { ...process.env, TOOLHOST_MCP_STATE_SECRET: 'scale-out-test-secret-0123456789abcdef' });
    const { client, reached } = await alternatingClient(servers);
    try {
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo_echo'));
      for (let i = 0; i < 4; ++i)
        assert.deepEqual((await callOk(client, 'echo_echo', { i })).structuredContent, { i });
      const before = reached.length;
      const r = await callOk(client, 'testkit_mt_ask_client', elicitation);
      assert.deepEqual(r.structuredContent, { status: 0, result: { action: 'accept', content: { name: 'Ada' } } });
      const rounds = reached.slice(before);
      assert.equal(rounds.length, 2, `the call and its retry: ${rounds}`);
      assert.notEqual(rounds[0], rounds[1], 'the retry went to the other instance');
      assert.equal(new Set(reached).size, 2);
    } finally {
      await client.close();
      servers.forEach((s) => s.stop());
    }
  });

  test('without a shared secret, the other instance refuses the first one\'s requestState', async () => {
    const env = { ...process.env };
    delete env.TOOLHOST_MCP_STATE_SECRET;
    const servers = await twoServers('unshared', env);
    const { client } = await alternatingClient(servers);
    try {
      await assert.rejects(client.callTool({ name: 'testkit_mt_ask_client', arguments: elicitation }),
        /requestState/);
    } finally {
      await client.close();
      servers.forEach((s) => s.stop());
    }
  });
});

// ------------------------------------------------------------------------------- behind nginx

// Debian's nginx (tests/mcp/cluster_support.mjs), with the `location /mcp` of docs/serving.md in
// front of `upstreams` (base URLs).
async function startServingNginx(upstreams) {
  const port = await freePort();
  const servers = upstreams.map((u) => `server ${new URL(u).host};`).join(' ');
  const balancer = await startNginx(fs.mkdtempSync(path.join(work, 'nginx-')), `
upstream toolhost { ${servers} }
server {
    listen 127.0.0.1:${port};
    # as in docs/serving.md:
    location /mcp {
        proxy_pass http://toolhost;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_buffering off;
        proxy_read_timeout 1h;
    }
}
`, port);
  return {
    base: balancer.base,
    stop: () => {
      balancer.stop();
      fs.writeFileSync(path.join(work, 'nginx-error.log'), balancer.errorLog());
    },
  };
}

// The echo calls an instance has counted (its /metrics).
async function echoCalls(base) {
  const body = await (await fetch(`${base}/metrics`)).text();
  return body.split('\n').filter((l) => l.startsWith('toolhost_tool_calls_total{') && l.includes('tool="echo"'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

// The load-balancer set-up docs/serving.md shows, for real: a client of the revision that knows
// only nginx, whose requests nginx spreads over two instances without affinity.
describe('HTTP: two instances behind nginx, configured as docs/serving.md shows', () => {
  test('calls, an input_required round trip and a subscription, through the balancer', async () => {
    const env = { ...process.env, TOOLHOST_MCP_STATE_SECRET: 'nginx-test-secret-0123456789abcdef0123' };
    const servers = [await startHttpServer(toolhost, serverArgs, work, 'nginx-a.log', env),
      await startHttpServer(toolhost, serverArgs, work, 'nginx-b.log', env)];
    let balancer;
    const client = makeClient();
    try {
      balancer = await startServingNginx(servers.map((s) => s.base));
      await client.connect(new StreamableHTTPClientTransport(new URL(`${balancer.base}/mcp`)));
      for (let i = 0; i < 6; ++i)
        assert.deepEqual((await callOk(client, 'echo_echo', { i })).structuredContent, { i });
      const r = await callOk(client, 'testkit_mt_ask_client', elicitation);
      assert.deepEqual(r.structuredContent, { status: 0, result: { action: 'accept', content: { name: 'Ada' } } });
      // An event stream through the proxy: the acknowledgement arrives unbuffered.
      const sub = await client.listen({ toolsListChanged: true });
      assert.deepEqual(sub.honoredFilter, { toolsListChanged: true });
      await sub.close();
      await sub.closed;
      const counts = await Promise.all(servers.map((s) => echoCalls(s.base)));
      assert.equal(counts[0] + counts[1], 6, `echo calls per instance: ${counts}`);
      assert.ok(counts[0] > 0 && counts[1] > 0, `both instances served: ${counts}`);
    } finally {
      await client.close();
      balancer?.stop();
      servers.forEach((s) => s.stop());
    }
  });
});

