// Quarantine counts loss events, not the jobs a lost worker carried: a worker killed twice
// within the window while it runs two jobs each time is not quarantined.
import { afterEach, expect, test } from 'bun:test';
import { FAST_LIVENESS, TestCluster, TINY_PATTERN_URL } from '../helpers/cluster';
import { StreamRecorder } from '../helpers/stream-recorder';

type WorkerView = { quarantinedUntil: number | null; quarantineReason: string | null };
type Variants = { live: { variant: string; job: { workerId: string } | null }[] };

let cluster: TestCluster;
const clients: StreamRecorder[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await cluster.stop();
});

test('a worker killed twice within the window while running two jobs is not quarantined', async () => {
  cluster = new TestCluster({ env: { ...FAST_LIVENESS, TVARR_MAX_ATTEMPTS: '50' } });
  const coordinator = await cluster.startCoordinator();
  const log = coordinator.proc;
  await cluster.startWorker('victim');
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  // Copy profiles: four jobs that cost almost no CPU.
  for (const id of ['copy-a', 'copy-b', 'copy-c', 'copy-d']) await cluster.createProfile({ id, name: id, videoCodec: 'copy' });
  const open = async (profile: string) => {
    const c = await StreamRecorder.open(`${coordinator.httpUrl}/stream/pattern/${profile}`);
    clients.push(c);
    await c.waitForBytes(20_000);
    return c;
  };
  const jobsOn = async (workerId: string) => {
    const { body } = await coordinator.api<Variants>('/api/variants');
    return body.live.filter((v) => v.job?.workerId === workerId).map((v) => v.variant).sort();
  };
  const lostCount = () => log.lines.filter((l) => l.msg === 'worker lost' && l.workerId === 'test-victim').length;
  const restartVictim = async () => {
    // A worker probes every encoder before it registers: slow on a loaded machine.
    await cluster.startWorker('victim', {}, { registerTimeoutMs: 240_000 });
  };
  const killVictim = async () => {
    const before = lostCount();
    const from = log.lines.length;
    cluster.workers.get('victim')!.kill('SIGKILL');
    await log.waitForLog((l) => l.msg === 'worker lost' && l.workerId === 'test-victim', 30_000, from);
    expect(lostCount()).toBe(before + 1);
  };

  // First loss: two jobs on the victim.
  await open('copy-a');
  await open('copy-b');
  expect(await jobsOn('test-victim')).toEqual(['pattern/copy-a', 'pattern/copy-b']);
  // The spare has room for three jobs, so after the first loss it holds a and b and is
  // less free (2/3) than the victim back from its restart (0/2): c and d go to the victim.
  await cluster.startWorker('spare', { TVARR_MAX_JOBS: '3', TVARR_MAX_CPU_JOBS: '3' });
  await killVictim();
  await Promise.all(clients.map((c) => c.waitForBytes(20_000)));
  expect(await jobsOn('test-spare')).toEqual(['pattern/copy-a', 'pattern/copy-b']);

  // Second loss within the window, again with two jobs.
  await restartVictim();
  await open('copy-c');
  await open('copy-d');
  expect(await jobsOn('test-victim')).toEqual(['pattern/copy-c', 'pattern/copy-d']);
  await killVictim();
  // Four failed attempts from two loss events: two faults, below the threshold of 3.
  const { body: failed } = await coordinator.api<{ failureReason: string }[]>('/api/jobs?workerId=test-victim&state=failed');
  expect(failed.filter((j) => j.failureReason.startsWith('worker lost')).length).toBe(4);
  const { body: victim } = await coordinator.api<WorkerView>('/api/workers/test-victim');
  expect(victim.quarantinedUntil).toBeNull();
  expect(victim.quarantineReason).toBeNull();
  expect(log.lines.some((l) => l.msg === 'worker quarantined')).toBe(false);

}, 420_000);
