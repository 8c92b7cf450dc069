// What the TypeScript SDK tests (tests/mcp/*.test.mjs) share: their command line, a fresh work
// folder with the two plugins, bounded waits, and a `toolhost serve --http` on a free port.
//
//   node <test>.mjs TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN WORK_DIR   (tests/mcp/CMakeLists.txt)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The command line; exits with a usage line (2) or a missing build product (1) before any test runs.
export function sdkTestArgs(argv = process.argv) {
  const [toolhost, testkit, echo, work] = argv.slice(2);
  if (!toolhost || !testkit || !echo || !work) {
    console.error(`usage: ${path.basename(argv[1])} TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN WORK_DIR`);
    process.exit(2);
  }
  for (const f of [toolhost, testkit, echo]) {
    if (!fs.existsSync(f)) {
      console.error(`FAILED: ${f} does not exist (build the toolhost, fixture_testkit and echo targets)`);
      process.exit(1);
    }
  }
  return { toolhost, testkit, echo, work };
}

// A fresh work folder holding only the two plugins (symbolic links, so that the other fixtures,
// some broken on purpose, are not loaded) and an empty data folder. Everything of the last run
// stays there.
export function freshWork({ testkit, echo, work }) {
  fs.rmSync(work, { recursive: true, force: true });
  const pluginDir = path.join(work, 'plugins');
  fs.mkdirSync(pluginDir, { recursive: true });
  fs.mkdirSync(path.join(work, 'data'));
  for (const f of [testkit, echo]) fs.symlinkSync(path.resolve(f), path.join(pluginDir, path.basename(f)));
  return { pluginDir, configFile: path.join(work, 'config.json') };
}

// A fresh work folder (freshWork) and a configuration that enables the two plugins' tools only:
// the arguments of `toolhost serve` that use them.
export function standardServer(args) {
  const { pluginDir, configFile } = freshWork(args);
  fs.writeFileSync(configFile, JSON.stringify({
    plugin_dirs: [],
    data_dir: path.join(args.work, 'data'),
    log_level: 'info',
    tools_enabled_by_default: false,
    tools: { echo: { enabled: true }, testkit_mt: { enabled: true } },
  }, null, 2));
  return ['--config', configFile, '--no-default-plugins', '--plugin-dir', pluginDir];
}

// unref: a pending safety-net timer never keeps the process alive.
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref());

// Polls `probe` (async, returns a truthy value when done) every 50 ms, at most `limitMs`.
export async function until(what, probe, limitMs = 30000) {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up after ${limitMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

// `toolhost serve --http 127.0.0.1:0 ARGS...` in `work` (with `env`), once it wrote its port: {base
// (the http://127.0.0.1:PORT), stderr() (so far), exited (resolves with {code, signal}),
// kill(signal), stop() (SIGKILL unless it already ended; saves its stderr as `logName` in work)}.
export async function startHttpServer(toolhost, args, work, logName = 'http.log', env = process.env) {
  const portFile = path.join(work, `${logName}.port`);
  fs.rmSync(portFile, { force: true });
  const server = spawn(toolhost, ['serve', '--http', '127.0.0.1:0', '--port-file', portFile, ...args],
    { cwd: work, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => server.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = null;
  exited.then((s) => { gone = s; });
  const port = await until('the port file', async () => {
    if (gone) throw new Error(`toolhost serve exited (${JSON.stringify(gone)}) before it was ready:\n${stderr}`);
    try {
      const p = fs.readFileSync(portFile, 'utf8').trim();
      return /^\d+$/.test(p) ? p : null;
    } catch {
      return null;
    }
  });
  return {
    base: `http://127.0.0.1:${port}`,
    stderr: () => stderr,
    exited,
    kill: (signal) => server.kill(signal),
    stop: () => {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      fs.writeFileSync(path.join(work, logName), stderr);
    },
  };
}
