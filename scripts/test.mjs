// `npm test`: runs bun's test runner over tests/, then prints one honest closing line
// `N passed, N failed` counted from its JUnit report, and fails if any test process
// left a child (FFmpeg, a worker) running.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = join(root, 'test-artifacts');
mkdirSync(artifacts, { recursive: true });
const junit = join(artifacts, 'junit.xml');
rmSync(junit, { force: true });

// Every process the tests start inherits this marker; leftovers are found by it.
const runId = randomUUID();
const args = ['test', '--timeout=120000', '--reporter=junit', `--reporter-outfile=${junit}`, ...process.argv.slice(2)];
const result = spawnSync(join(root, 'node_modules', '.bin', 'bun'), args, {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TVARR_TEST_RUN: runId },
});

function leftovers() {
  const found = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`TVARR_TEST_RUN=${runId}`)) continue;
      found.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim()}`);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

let passed = 0;
let failed = 0;
if (existsSync(junit)) {
  const xml = readFileSync(junit, 'utf8');
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const inner = m[2] ?? '';
    if (/<skipped\b/.test(inner)) continue;
    if (/<(failure|error)\b/.test(inner)) failed += 1;
    else passed += 1;
  }
} else {
  failed += 1;
  console.error('no JUnit report was written: the test runner did not finish');
}
// A process whose parent a test's afterAll SIGKILLed just before the runner exited may still be
// ending (its kernel SIGKILL not yet processed): it gets the 2 s the product promises, no more.
// The private PostgreSQL server's janitor (tests/helpers/postgres.ts) removes its data
// directory after the runner exits: hundreds of MB of test databases may take longer than
// 2 s on a loaded machine. It gets 30 s; a janitor still there after that fails the run.
const isJanitor = (line) => line.includes('postgres-janitor') || /\brm -rf \/tmp\/tvarr-pg-/.test(line);
let left = leftovers();
for (const started = Date.now(); left.length > 0; left = leftovers()) {
  const budget = left.every(isJanitor) ? 30_000 : 2000;
  if (Date.now() - started >= budget) break;
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
}
if (left.length > 0) {
  failed += 1;
  console.error(`suite check failed: ${left.length} test process(es) left running:\n  ${left.join('\n  ')}`);
  for (const line of left) {
    try {
      process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    } catch {
      // gone
    }
  }
}
const code = result.status !== 0 || failed > 0 || passed === 0 ? 1 : 0;
console.log(`${passed} passed, ${failed} failed`);
process.exit(code);
