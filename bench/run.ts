// The one benchmark command: `bun run bench` (full, ~11 min) or `bun run bench --quick`
// (~3 min, without the scheduler). Runs data path, relay, fan-out, the scheduler benchmark (bench/scheduler.ts,
// which writes its own section), failover and sources that change (bench/source-changes.ts,
// issue 21), then rewrites docs/BENCHMARKS.md by section (other sections, e.g.
// "## Remote workers", are kept) and docs/bench/*.svg.
//   --only=data-path,relay,fanout,scheduler,failover,source-changes,fleet,cluster-takeover,cluster-fanout,ladder-job   run a subset (other sections kept)
// The fleet benchmark (bench/fleet.ts, issue 22) runs only when asked: --only=fleet.
//   --no-write                                                         print only
import { benchClusterTakeover, clusterTakeoverSection } from './cluster-takeover';
import { benchClusterFanout, clusterFanoutSection } from './cluster-fanout';
import { benchLadderJob, ladderJobSection } from './ladder-job';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUN } from '../tests/helpers/processes';
import { loadAverage, machineInfo, otherTestRuns } from './common';
import { benchDataPath } from './data-path';
import { benchFailover } from './failover';
import { benchFanout } from './fanout';
import { benchRelay } from './relay';
import { benchFleet, fleetSection } from './fleet';
import { benchSourceChanges } from './source-changes';
import { sourceChangesSection } from './source-changes-report';
import { dataPathSection, failoverSection, fanoutSection, headerSection, relaySection, ROOT, writeDoc } from './report';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const write = !args.includes('--no-write');
const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const wants = (name: string) => !only || only.includes(name);
const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);

// Other work on the machine disturbs every number here: record it as we go.
const disturbance: string[] = [];
function noteMachine(stage: string): void {
  const tests = otherTestRuns();
  const load = loadAverage();
  // (The load average includes this benchmark's own FFmpeg and processes: informative only.)
  if (tests > 0) disturbance.push(`${stage}: ${tests} other \`bun test\` process(es), load ${load.toFixed(2)}`);
}

const sections: string[] = [];
/** One benchmark's failure leaves its section as it was and does not stop the others. */
async function attempt(name: string, fn: () => Promise<string>): Promise<void> {
  try {
    sections.push(await fn());
  } catch (err) {
    log(`${name} FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    disturbance.push(`${name} failed in this run (its section is from an earlier run)`);
  }
}
// Optional text about a measured improvement, kept beside the data path section.
const improvementFile = join(import.meta.dir, 'IMPROVEMENT.md');
const improvement = existsSync(improvementFile) ? await Bun.file(improvementFile).text() : '';

if (wants('data-path')) {
  noteMachine('data path');
  await attempt('data path', async () => dataPathSection(await benchDataPath({ quick, log }), improvement.trim()));
}
if (wants('relay')) {
  noteMachine('relay');
  await attempt('relay', async () => relaySection(await benchRelay({ quick, log })));
}
if (wants('fanout')) {
  noteMachine('fan-out');
  await attempt('fan-out', async () => fanoutSection(await benchFanout({ quick, log })));
}
// The scheduler benchmark takes ~3 min on its own: not part of --quick (its section stays).
if (wants('scheduler') && (!quick || only) && existsSync(join(import.meta.dir, 'scheduler.ts'))) {
  noteMachine('scheduler');
  log('scheduler: bench/scheduler.ts' + (write ? ' --write' : ''));
  // Its own script writes "## Scheduler" in docs/BENCHMARKS.md; the merge below keeps it.
  const p = Bun.spawn([BUN, join(import.meta.dir, 'scheduler.ts'), ...(write ? ['--write'] : [])], { cwd: ROOT, stdout: 'ignore', stderr: 'inherit' });
  if ((await p.exited) !== 0) log('scheduler benchmark failed; its section is left as it was');
}
if (wants('failover')) {
  noteMachine('failover');
  await attempt('failover', async () => failoverSection(await benchFailover({ quick, log })));
}
if (wants('source-changes')) {
  noteMachine('source changes');
  await attempt('source changes', async () => sourceChangesSection(await benchSourceChanges({ quick, log })));
}
// ~4 min (10 fresh clusters on PostgreSQL): only with --only=cluster-takeover.
if (only?.includes('cluster-takeover')) {
  noteMachine('cluster takeover');
  await attempt('cluster takeover', async () => clusterTakeoverSection(await benchClusterTakeover({ quick, log })));
}
// ~3 min (three fresh clusters on PostgreSQL, 200 clients per coordinator under a CPU quota): only with --only=cluster-fanout.
if (only?.includes('cluster-fanout')) {
  noteMachine('cluster fan-out');
  await attempt('cluster fan-out', async () => clusterFanoutSection(await benchClusterFanout({ quick, log })));
}
// ~3 min (a 1080p ladder: FFmpeg alone, then one ladder job and three separate jobs): only with --only=ladder-job.
if (only?.includes('ladder-job')) {
  noteMachine('ladder job');
  await attempt('ladder job', async () => ladderJobSection(await benchLadderJob({ log })));
}
// ~6 min (1,000 fake workers on 2 cores, a baseline worktree): only with --only=fleet.
if (only?.includes('fleet')) {
  noteMachine('fleet');
  await attempt('fleet', async () => fleetSection(await benchFleet({ quick, log })));
}
noteMachine('end');

const durationS = (performance.now() - t0) / 1000;
const quiet = disturbance.length ? `**not quiet / not complete**: ${disturbance.join('; ')}.` : 'quiet: no other `bun test` runs seen at any stage.';
const header = headerSection(machineInfo(), {
  date: new Date().toISOString(),
  quick,
  quiet,
  command: `bun run bench${quick ? ' --quick' : ''}${only ? ` --only=${only.join(',')}` : ''}`,
  durationS,
});
if (write) {
  writeDoc(header, sections);
  log(`wrote docs/BENCHMARKS.md and docs/bench/*.svg in ${durationS.toFixed(0)} s`);
} else {
  console.log([header, ...sections].join('\n\n'));
}
process.exit(0);
