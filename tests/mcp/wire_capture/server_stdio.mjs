// stdio server for the wire capture: serveStdio() over a StdioServerTransport whose
// stdin/stdout are wrapped so every line in each direction is appended to the log
// file named by WIRE_LOG (one JSON record per line).
import { appendFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { makeServer } from './server_factory.mjs';

const logFile = process.env.WIRE_LOG;
const t0 = Number(process.env.WIRE_T0 || Date.now());
function log(dir, chunk) {
    if (!logFile) return;
    appendFileSync(logFile, JSON.stringify({ t: Date.now() - t0, pid: process.pid, dir, data: chunk.toString('utf8') }) + '\n');
}

const inTap = new PassThrough();
process.stdin.on('data', c => { log('client->server', c); inTap.write(c); });
process.stdin.on('end', () => { log('client->server', Buffer.from('<EOF on stdin>')); inTap.end(); });

const outTap = new PassThrough();
outTap.on('data', c => { log('server->client', c); process.stdout.write(c); });

const transport = new StdioServerTransport(inTap, outTap);
serveStdio(() => makeServer({}), { transport, onerror: e => process.stderr.write(`[server_stdio onerror] ${e?.message}\n`) });
