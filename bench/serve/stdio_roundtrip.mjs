// The stdio round trip of the MCP benchmark (bench/serve/run.sh): spawns `toolhost serve --stdio`,
// initializes, then sends N sequential tools/call echo_echo requests (one in flight at a time)
// and measures each from writing the request line to reading its response line.
//
//   node stdio_roundtrip.mjs [--calls N] [--warmup N] -- TOOLHOST_EXE serve --stdio [toolhost options...]
//
// Prints a summary and one line
//   MCPBENCH {"calls":..,"calls_per_s":..,"p50_us":..,"p99_us":..,...}
// Exit 1 if any response is not a successful result or the server does not exit with 0 when
// its input ends.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
if (dash < 0 || dash + 1 >= argv.length) {
  console.error('usage: stdio_roundtrip.mjs [--calls N] [--warmup N] -- TOOLHOST_EXE serve --stdio [options...]');
  process.exit(2);
}
const own = argv.slice(0, dash);
const option = (name, fallback) => {
  const i = own.indexOf(name);
  return i >= 0 && i + 1 < own.length ? Number(own[i + 1]) : fallback;
};
const calls = option('--calls', 20000);
const warmup = option('--warmup', 500);
const [command, ...commandArgs] = argv.slice(dash + 1);

const child = spawn(command, commandArgs, { stdio: ['pipe', 'pipe', 'inherit'] });
const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
const lines = readline.createInterface({ input: child.stdout, crlfDelay: Infinity });
let waiting = null;
const queued = [];
lines.on('line', (line) => {
  if (waiting) {
    const w = waiting;
    waiting = null;
    w(line);
  } else {
    queued.push(line);
  }
});
child.once('exit', () => { if (waiting) waiting(null); });
const nextLine = () => (queued.length ? Promise.resolve(queued.shift()) : new Promise((r) => { waiting = r; }));

async function roundTrip(message) {
  child.stdin.write(JSON.stringify(message) + '\n');
  for (;;) {
    const line = await nextLine();
    if (line === null) throw new Error('toolhost serve --stdio exited');
    const m = JSON.parse(line);
    if (m.id === message.id) return m;  // skip notifications, if any
  }
}

const init = await roundTrip({
  jsonrpc: '2.0', id: 0, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'stdio-bench', version: '1' } },
});
if (!init.result) throw new Error(`initialize failed: ${JSON.stringify(init)}`);
child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');

const args = { message: 'hello', n: 42 };
let id = 1;
async function call() {
  const r = await roundTrip({ jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name: 'echo_echo', arguments: args } });
  if (!r.result || r.result.isError || r.result.structuredContent?.n !== 42)
    throw new Error(`tools/call failed: ${JSON.stringify(r)}`);
}

for (let i = 0; i < warmup; ++i) await call();
const samples = new Float64Array(calls);
const start = process.hrtime.bigint();
for (let i = 0; i < calls; ++i) {
  const t0 = process.hrtime.bigint();
  await call();
  samples[i] = Number(process.hrtime.bigint() - t0) / 1000;  // microseconds
}
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
child.stdin.end();
const { code, signal } = await exited;

samples.sort();
const pct = (p) => samples[Math.min(calls - 1, Math.floor((p / 100) * calls))];
const mean = samples.reduce((a, b) => a + b, 0) / calls;
const out = {
  calls, seconds: +seconds.toFixed(3), calls_per_s: +(calls / seconds).toFixed(1),
  p50_us: Math.round(pct(50)), p90_us: Math.round(pct(90)), p99_us: Math.round(pct(99)),
  max_us: Math.round(samples[calls - 1]), mean_us: +mean.toFixed(1), exit_code: code,
};
console.log(`stdio: ${calls} sequential tools/call echo_echo in ${out.seconds} s: ${out.calls_per_s} calls/s, ` +
  `p50 ${out.p50_us} us, p99 ${out.p99_us} us`);
console.log(`MCPBENCH ${JSON.stringify(out)}`);
if (code !== 0 || signal) {
  console.error(`toolhost serve --stdio ended with status ${code}, signal ${signal}`);
  process.exit(1);
}
