// The hostile-client flood of the security proof (bench/serve/flood.sh, docs/security.md): for a
// given time, several connections at once send the probe's bad requests to a toolhost serve
// --http, one kind after another, and count how each was answered. Prints one line
//   FLOOD {"sent":..,"answered":{"400":..,...},"closed":..,"errors":..}
//
//   node flood.mjs --port PORT --seconds S [--connections N] [--token T] [--session ID] [--idle N]
//
// With --session, the MCP requests carry that session (so that they reach the MCP engine
// instead of being refused for having none).
//
// Kinds: a 4 MiB invalid JSON body whose error is at its end; a response message with an id
// above INT64_MAX; request smuggling with "Transfer-Encoding: chunked, identity"; two Host
// headers; a call with 1e309 and a 30-digit integer; JSON nested 100,000 deep; a 4 MiB array that
// is valid JSON, then the connection kept idle; a slow header sent a byte at a time (slowloris).
// `--idle N` also holds N connections open without a request (the connection limit).
import net from 'node:net';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const port = Number(args.port);
const seconds = Number(args.seconds ?? 10);
const connections = Number(args.connections ?? 4);
const idle = Number(args.idle ?? 0);
const auth = (args.token ? `Authorization: Bearer ${args.token}\r\n` : '') +
  (args.session ? `Mcp-Session-Id: ${args.session}\r\n` : '');

const mcpHeaders = (length, extra = '') =>
  `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Content-Type: application/json\r\n` +
  `Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2025-11-25\r\n${extra}` +
  `Content-Length: ${length}\r\n\r\n`;
const post = (body, extra = '') => Buffer.concat([Buffer.from(mcpHeaders(Buffer.byteLength(body), extra)), Buffer.from(body)]);

const big = 4 << 20;
const invalidAtEnd = '[' + '1,'.repeat(big / 2 - 2) + '1,]';
const validArray = '[' + '1,'.repeat(big / 2 - 2) + '1]';
const deep = '['.repeat(100000) + ']'.repeat(100000);
const call = (a) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_echo","arguments":${a}}}`;
const smuggled = `{"jsonrpc":"2.0","id":2,"method":"ping"}`;

const kinds = [
  { name: 'invalid_4mib', bytes: () => post(invalidAtEnd) },
  { name: 'huge_response_id', bytes: () => post('{"jsonrpc":"2.0","id":18446744073709551615,"result":{}}') },
  {
    name: 'te_chunked_identity',
    bytes: () => Buffer.from(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Content-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked, identity\r\n\r\n` +
      `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n`),
  },
  { name: 'two_hosts', bytes: () => post('{"jsonrpc":"2.0","id":3,"method":"ping"}', `Host: evil.example\r\n`) },
  { name: 'non_finite', bytes: () => post(call('{"message":1e309,"n":123456789012345678901234567890}')) },
  { name: 'deep_nesting', bytes: () => post(deep) },
  { name: 'valid_4mib_then_idle', bytes: () => post(validArray), keep: true },
  { name: 'slowloris', slow: true },
];

const stats = { sent: 0, answered: {}, closed: 0, errors: 0, by_kind: {} };
const end = Date.now() + seconds * 1000;
const held = [];

function once(kind) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    const finish = (what) => {
      if (done) return;
      done = true;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      const key = m ? m[1] : what;
      stats.answered[key] = (stats.answered[key] ?? 0) + 1;
      (stats.by_kind[kind.name] ??= {})[key] = (stats.by_kind[kind.name][key] ?? 0) + 1;
      if (kind.keep && m) held.push(s); else s.destroy();
      resolve();
    };
    s.setNoDelay(true);
    s.on('data', (d) => { got += d.toString('latin1'); if (/\r\n\r\n/.test(got)) finish('answered'); });
    s.on('error', () => { stats.errors++; finish('error'); });
    s.on('close', () => { stats.closed++; finish('closed'); });
    s.setTimeout(15000, () => finish('timeout'));
    stats.sent++;
    if (kind.slow) {
      const text = `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: ${'a'.repeat(200)}\r\n\r\n`;
      let i = 0;
      const drip = setInterval(() => {
        if (done || i >= text.length || Date.now() > end) { clearInterval(drip); if (!done) finish('gave_up'); return; }
        s.write(text[i++]);
      }, 50);
    } else {
      s.write(kind.bytes());
    }
  });
}

async function worker(first) {
  let k = first;
  while (Date.now() < end) {
    await once(kinds[k % kinds.length]);
    k++;
  }
}

for (let i = 0; i < idle; i++) held.push(net.connect(port, '127.0.0.1').on('error', () => {}));
await Promise.all(Array.from({ length: connections }, (_, i) => worker(i)));
for (const s of held) s.destroy();
console.log('FLOOD ' + JSON.stringify(stats));
