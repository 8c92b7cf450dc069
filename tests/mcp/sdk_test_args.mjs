// The command line both TypeScript SDK tests take (tests/mcp/CMakeLists.txt passes it):
//   node <test>.mjs TOOLHOST_EXE TESTKIT_PLUGIN ECHO_PLUGIN WORK_DIR
// Exits with a usage line (2) or a missing build product (1) before any test runs.
import fs from 'node:fs';
import path from 'node:path';

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
