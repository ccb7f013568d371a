// The database goes away while the coordinator runs on PostgreSQL: every process of a
// private server is frozen (SIGSTOP: queries hang as in a network partition). A stream
// already running keeps flowing; a worker lost meanwhile is written offline once the
// database answers again (retried, not dropped); afterwards the cluster works as before.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { FAST_LIVENESS, TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { startPostgres, type PgServer } from '../helpers/postgres';
import { eventually } from '../helpers/processes';
import { StreamRecorder } from '../helpers/stream-recorder';

/** pid and all its descendants, from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

function signalServer(pg: PgServer, signal: 'SIGSTOP' | 'SIGCONT'): void {
  for (const pid of processTree(pg.pid)) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

describe('coordinator on PostgreSQL: the database goes away while running', () => {
  let pg: PgServer;
  let cluster: TestCluster;
  let client: StreamRecorder | undefined;
  let frozen = false;

  beforeAll(async () => {
    pg = await startPostgres();
    cluster = new TestCluster({ env: { ...FAST_LIVENESS, TVARR_DATABASE_URL: await pg.createDatabase('outage') } });
    await cluster.startCoordinator();
    await Promise.all([cluster.startWorker('serving'), cluster.startWorker('spare')]);
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
  }, 180_000);

  afterAll(async () => {
    if (frozen) signalServer(pg, 'SIGCONT');
    await client?.close();
    await cluster?.stop();
    await pg?.stop();
  });

  test('a running stream keeps flowing; /healthz says 503 meanwhile; a worker lost meanwhile is written offline when the database is back', async () => {
    client = await StreamRecorder.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await client.waitForBytes(50_000);
    const { body: variants } = await cluster.coordinator.api<{ live: { job: { workerId: string } | null }[] }>('/api/variants');
    const servingId = variants.live[0]!.job!.workerId;
    const spare = servingId === 'test-serving' ? 'spare' : 'serving';

    signalServer(pg, 'SIGSTOP');
    frozen = true;
    const log = cluster.coordinator.proc;
    const from = log.lines.length;
    // Nothing on the data path reads the database: the stream goes on.
    await client.waitForBytes(100_000);
    // A loss while the database is away: its offline write is retried until it lands.
    await cluster.workers.get(spare)!.kill('SIGKILL');
    await log.waitForLog((l) => l.msg === 'worker lost' && l.workerId === `test-${spare}`, 30_000, from);
    await client.waitForBytes(50_000);
    // Its cluster lease cannot be renewed: /healthz tells a load balancer to send new
    // viewers elsewhere, while the viewer it has keeps playing.
    const health = async () => (await fetch(`${cluster.coordinator.httpUrl}/healthz`)).status;
    await eventually('/healthz 503 while the database is away', async () => (await health()) === 503, 30_000);

    signalServer(pg, 'SIGCONT');
    frozen = false;
    await eventually('/healthz 200 again', async () => (await health()) === 200, 30_000);
    const row = await eventually(
      'the lost worker written offline',
      async () => {
        const { body } = await cluster.coordinator.api<{ id: string; state: string }[]>('/api/workers');
        return body.find((w) => w.id === `test-${spare}` && w.state === 'offline');
      },
      60_000,
    );
    expect(row.state).toBe('offline');
    // The serving worker is untouched and the stream still flows after the outage.
    const { body: after } = await cluster.coordinator.api<{ id: string; state: string }[]>('/api/workers');
    expect(after.find((w) => w.id === servingId)?.state).toBe('online');
    await client.waitForBytes(50_000);
  }, 180_000);
});
