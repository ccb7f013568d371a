// Issue 23: fan-out across coordinators. One variant (the test pattern at 640x360, H.264
// from one worker on the owner) watched by the same number of MPEG-TS clients, all on one
// coordinator, then spread evenly over 2 and over 3 coordinators of one cluster (the others
// serve from their mirror of the owner), each coordinator under the same CPU budget (a
// cgroup quota) so that the coordinators, not this machine's two shared cores, bound what
// is served. The clients run in a child process (--swarm), each on its coordinator; one
// refused by admission control (503 overloaded) asks again after its Retry-After, as a
// player does. Per run: bytes delivered to all clients over the window, how many kept up
// with the live rate, how many had a stream at the end, the refusals, and each
// coordinator's CPU. Beside it, what a mirror costs: a coordinator serving one client of a
// variant another coordinator owns (and the same coordinator before, with nothing to
// serve), against one more client on the owner.
import { sharedPostgres } from '../tests/helpers/postgres';
import { FAST_LIVENESS, TestCluster, TINY_PATTERN_URL, type CoordinatorHandle } from '../tests/helpers/cluster';
import { mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { procCpuSeconds } from './common';
import { readJsonLines } from '../tests/helpers/json-lines';
import { BUN } from '../tests/helpers/processes';
import type { Subprocess } from 'bun';

const PROFILE = {
  id: 'fanout-360p',
  name: 'fan-out 360p',
  videoCodec: 'h264',
  width: 640,
  height: 360,
  videoBitrateKbps: 3000,
  audioCodec: 'aac',
  audioBitrateKbps: 96,
  gopFrames: 25,
  preset: 'ultrafast',
};
const SOURCE_URL = TINY_PATTERN_URL.replace('320x240', '640x360');

// Each coordinator gets a CPU budget of its own (a cgroup v1 CFS quota, as a container's
// --cpus), so that on this one machine they behave like coordinators on hosts of their
// own: the total served is then bounded by the coordinators, not by the shared cores.
const CGROUP_CPU = '/sys/fs/cgroup/cpu';
export const QUOTA_CORES = Number(process.env.FANOUT_CORES ?? 0.09);

function limitCpu(name: string, pid: number, cores: number): (() => void) | null {
  const dir = `${CGROUP_CPU}/${name}`;
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/cpu.cfs_period_us`, '100000');
    writeFileSync(`${dir}/cpu.cfs_quota_us`, String(Math.round(cores * 100_000)));
    writeFileSync(`${dir}/cgroup.procs`, String(pid));
  } catch {
    return null; // no writable cgroup v1 cpu controller: unlimited, and the section says so
  }
  return () => {
    try {
      writeFileSync(`${CGROUP_CPU}/cgroup.procs`, String(pid));
    } catch {
      // the process is gone
    }
    try {
      rmdirSync(dir);
    } catch {
      // still busy: removed with the next run's mkdir
    }
  };
}
const VARIANT = `/stream/pattern/${PROFILE.id}`;

/**
 * A client that reads as fast as the stream comes and counts bytes (nothing kept). Refused
 * by an overloaded coordinator (503 `overloaded`), it asks again after the Retry-After it
 * was given, jittered (0.5-1.5 x) as players spread their retries; any other end is final.
 * Runs in the client swarm (below).
 */
class CountingClient {
  bytes = 0;
  /** 503 overloaded answers it got. */
  refusals = 0;
  /** Its stream is open (200). */
  streaming = false;
  private readonly abort = new AbortController();
  /** `urls[0]` is its coordinator; with FANOUT_RETRY=next a refusal sends it to the next one. */
  constructor(urls: string[]) {
    let at = 0;
    const next = process.env.FANOUT_RETRY === 'next';
    void (async () => {
      try {
        for (;;) {
          const res = await fetch(urls[at]!, { signal: this.abort.signal });
          if (res.status === 503 && res.headers.has('retry-after')) {
            const body = (await res.json().catch(() => null)) as { error?: { code?: string } } | null;
            if (body?.error?.code !== 'overloaded') return;
            this.refusals += 1;
            if (next) at = (at + 1) % urls.length;
            await Bun.sleep(Number(res.headers.get('retry-after')) * 1000 * (0.5 + Math.random()));
            if (this.abort.signal.aborted) return;
            continue;
          }
          this.streaming = res.status === 200;
          const reader = res.body!.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            this.bytes += value.byteLength;
          }
        }
      } catch {
        // closed by us, or the stream failed: the count says which
      } finally {
        this.streaming = false;
      }
    })();
  }
  close(): void {
    this.abort.abort();
  }
}

interface SwarmState {
  bytes: number[];
  refusals: number[];
  streaming: boolean[];
  mark?: boolean;
}

/**
 * The clients live in a child process (this file with --swarm): Bun's fetch opens at most
 * 256 connections at once unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when the process
 * starts (bench/fanout.ts does the same), and 400 or 600 clients in this process quietly
 * became 256 (the runs before 2026-12-03 served 256 clients whatever the row said). The
 * child reads "open URL" and "mark" lines and answers with its clients' counts.
 */
async function runSwarm(): Promise<void> {
  const clients: CountingClient[] = [];
  const state = (mark: boolean): string =>
    JSON.stringify({ bytes: clients.map((c) => c.bytes), refusals: clients.map((c) => c.refusals), streaming: clients.map((c) => c.streaming), ...(mark ? { mark } : {}) }) + '\n';
  const timer = setInterval(() => process.stdout.write(state(false)), 250);
  for await (const line of console) {
    const [cmd, arg] = line.trim().split(' ');
    if (cmd === 'open') clients.push(new CountingClient(arg!.split(',')));
    else if (cmd === 'mark') process.stdout.write(state(true));
    else if (cmd === 'quit') break;
  }
  clearInterval(timer);
  for (const c of clients) c.close();
  process.exit(0);
}

if (import.meta.main && process.argv[2] === '--swarm') await runSwarm();

class ClientSwarm {
  private opened = 0;
  latest: SwarmState = { bytes: [], refusals: [], streaming: [] };
  private marks: ((s: SwarmState) => void)[] = [];
  readonly proc: Subprocess<'pipe', 'pipe', 'inherit'>;

  constructor(maxClients: number) {
    this.proc = Bun.spawn([BUN, import.meta.path, '--swarm'], {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'inherit',
      env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: String(Math.max(256, maxClients + 16)) },
    });
    void readJsonLines(this.proc.stdout as ReadableStream<Uint8Array>, (o) => {
      const s = o as unknown as SwarmState;
      this.latest = s;
      if (s.mark) for (const m of this.marks.splice(0)) m(s);
    });
  }

  /** Opens a client on the first URL (the others: where FANOUT_RETRY=next sends it when refused); its index in the counts. */
  open(...urls: string[]): number {
    this.proc.stdin.write(`open ${urls.join(',')}\n`);
    void this.proc.stdin.flush();
    return this.opened++;
  }

  get count(): number {
    return this.opened;
  }

  /** The counts as of now (not the last periodic report). */
  mark(): Promise<SwarmState> {
    return new Promise((resolve) => {
      this.marks.push(resolve);
      this.proc.stdin.write('mark\n');
      void this.proc.stdin.flush();
    });
  }

  bytesOf(i: number): number {
    return this.latest.bytes[i] ?? 0;
  }

  /** Waits until each listed client has `bytes[i]` bytes, or the time is up (the shortfall is what is measured). */
  async waitFor(targets: Map<number, number>, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if ([...targets].every(([i, b]) => this.bytesOf(i) >= b)) return true;
      if (Date.now() > deadline) return false;
      await Bun.sleep(100); // counting another process's reads: its next report
    }
  }

  async stop(): Promise<void> {
    try {
      this.proc.stdin.write('quit\n');
      void this.proc.stdin.flush();
    } catch {
      // already gone
    }
    await Promise.race([this.proc.exited, Bun.sleep(3000)]);
    this.proc.kill('SIGKILL');
    await this.proc.exited;
  }
}

export interface FanoutRow {
  coordinators: number;
  clients: number;
  servedMbps: number;
  /** clients that got at least 90% of the live rate (one client of the owner alone) */
  keptUp: number;
  /** clients with a stream open at the end of the window (the others were refused: 503 overloaded, retrying) */
  streaming: number;
  /** 503 overloaded answers during the window (clients asking again after Retry-After) */
  refusals: number;
  /** CPU of the client swarm (% of a core): it must not be what limits */
  swarmPercent: number;
  cpuPercent: number[];
  cpuMsPerServedMbit: number;
}

export interface FanoutResult {
  rows: FanoutRow[];
  windowS: number;
  /** CPU % of a core: a non-owner serving one client from its mirror; one more client on the owner (marginal) */
  mirrorOneClientPercent: number;
  /** CPU % of a core of that non-owner before its client: a coordinator of the cluster with nothing to serve */
  idleCoordinatorPercent: number;
  ownerPerClientPercent: number;
  /** each coordinator's CPU budget in cores, or null where no cgroup could be set (unlimited) */
  quotaCores: number | null;
}

async function startCluster(n: number): Promise<{ cluster: TestCluster; coords: CoordinatorHandle[] }> {
  const cluster = new TestCluster({ engine: 'postgres', env: { ...FAST_LIVENESS, TVARR_LOG_LEVEL: 'info' } });
  const coords: CoordinatorHandle[] = [];
  coords.push(await cluster.startCoordinator({ TVARR_COORDINATOR_ID: 'fan-1' }));
  await cluster.startWorker('w1');
  for (let i = 2; i <= n; i++) coords.push(await cluster.startCoordinator({ TVARR_COORDINATOR_ID: `fan-${i}` }));
  cluster.coordinator = coords[0]!;
  await cluster.createSource('pattern', SOURCE_URL);
  await cluster.createProfile(PROFILE);
  return { cluster, coords };
}

async function measure(n: number, clients: number, windowS: number, log: (s: string) => void, liveBytesPerS?: number): Promise<FanoutRow & { oneClientPercent?: number; idlePercent?: number; liveBytesPerS: number }> {
  const { cluster, coords } = await startCluster(n);
  const swarm = new ClientSwarm(clients);
  const cleanups: (() => void)[] = [];
  try {
    const mustGet = async (i: number, bytes: number) => {
      if (!(await swarm.waitFor(new Map([[i, bytes]]), 60_000))) throw new Error(`client ${i} got ${swarm.bytesOf(i)} of ${bytes} bytes`);
    };
    // The owner first: the first coordinator asked that holds workers takes the source.
    const first = swarm.open(`${coords[0]!.httpUrl}${VARIANT}`);
    await mustGet(first, 500_000);
    const unlimit = coords.map((c, i) => limitCpu(`tvarr-fanout-${i + 1}`, c.proc.proc.pid, QUOTA_CORES));
    cpuLimited = unlimit.every((u) => u !== null);
    cleanups.push(() => unlimit.forEach((u) => u?.()));
    // One coordinator: its CPU with this one client (5 s), for the marginal cost per client.
    // Two: the second coordinator's CPU with one client of its mirror of the owner.
    let oneClientPercent: number | undefined;
    let idlePercent: number | undefined;
    if (n <= 2) {
      const at = coords[n - 1]!;
      if (n === 2) {
        // The second coordinator with nothing to serve yet: what any coordinator of the
        // cluster costs (its lease renewals, sweeps, timers), part of what its mirror costs.
        const i0 = procCpuSeconds(at.proc.proc.pid);
        const ti = performance.now();
        await Bun.sleep(5000);
        idlePercent = (100 * (procCpuSeconds(at.proc.proc.pid) - i0)) / ((performance.now() - ti) / 1000);
        await mustGet(swarm.open(`${at.httpUrl}${VARIANT}`), 500_000);
      }
      const c0 = procCpuSeconds(at.proc.proc.pid);
      const b0 = (await swarm.mark()).bytes[first]!;
      const t0 = performance.now();
      await Bun.sleep(8000); // a fixed window: CPU is sampled over time
      const b1 = (await swarm.mark()).bytes[first]!;
      const s = (performance.now() - t0) / 1000;
      oneClientPercent = (100 * (procCpuSeconds(at.proc.proc.pid) - c0)) / s;
      // The live rate: one client of an owner far from its budget.
      liveBytesPerS ??= (b1 - b0) / s;
    }
    // Spread the rest evenly (round robin over the coordinators).
    while (swarm.count < clients) {
      const home = swarm.count % n;
      swarm.open(...coords.map((_, i) => `${coords[(home + i) % n]!.httpUrl}${VARIANT}`));
    }
    // Under the quota a coordinator may not keep every client at the live rate (or take
    // it at all: 503 overloaded, asked again): that is what is measured, so a client that
    // is slow to start does not stop the run.
    const started = await swarm.mark();
    await swarm.waitFor(new Map(Array.from({ length: clients }, (_, i) => [i, (started.bytes[i] ?? 0) + 200_000])), 20_000);
    const before = await swarm.mark();
    const swarmCpu0 = procCpuSeconds(swarm.proc.pid);
    const cpu0 = coords.map((c) => procCpuSeconds(c.proc.proc.pid));
    const t0 = performance.now();
    await Bun.sleep(windowS * 1000);
    const after = await swarm.mark();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = coords.map((c, i) => (100 * (procCpuSeconds(c.proc.proc.pid) - cpu0[i]!)) / seconds);
    const swarmPercent = (100 * (procCpuSeconds(swarm.proc.pid) - swarmCpu0)) / seconds;
    const got = after.bytes.map((b, i) => b - (before.bytes[i] ?? 0));
    const streaming = after.streaming.filter(Boolean).length;
    const refusals = after.refusals.reduce((a, b) => a + b, 0) - before.refusals.reduce((a, b) => a + b, 0);
    const live = (liveBytesPerS ?? got[0]! / seconds) * seconds;
    const servedMbps = (got.reduce((a, b) => a + b, 0) * 8) / seconds / 1e6;
    const row: FanoutRow = {
      coordinators: n,
      clients,
      servedMbps,
      keptUp: got.filter((g) => g >= 0.9 * live).length,
      streaming,
      refusals,
      swarmPercent,
      cpuPercent: cpu,
      cpuMsPerServedMbit: (cpu.reduce((a, b) => a + b, 0) * 10) / servedMbps,
    };
    log(`fan-out ${n} coordinator(s), ${clients} clients: ${servedMbps.toFixed(0)} Mbit/s, ${row.keptUp} kept up, ${streaming} streaming, ${refusals} refusals, cpu ${cpu.map((c) => c.toFixed(1)).join('/')}% (client swarm ${swarmPercent.toFixed(0)}%)${oneClientPercent !== undefined ? `; ${n === 1 ? 'owner' : 'mirror'} with one client ${oneClientPercent.toFixed(1)}%` : ''}`);
    return { ...row, oneClientPercent, idlePercent, liveBytesPerS: live / seconds };
  } finally {
    await swarm.stop();
    await cluster.stop();
    for (const f of cleanups.splice(0)) f();
  }
}

let cpuLimited = false;

export async function benchClusterFanout(opts: { quick: boolean; log: (s: string) => void }): Promise<FanoutResult> {
  await sharedPostgres();
  // Clients per coordinator, more than one coordinator under its budget can keep at the
  // live rate: each configuration is loaded alike, and what it serves is its capacity.
  const perCoordinator = Number(process.env.FANOUT_CLIENTS ?? (opts.quick ? 60 : 200));
  const windowS = opts.quick ? 8 : 15;
  const rows: FanoutRow[] = [];
  let mirrorOne = Number.NaN;
  let idleCoordinator = Number.NaN;
  let ownerPerClient = Number.NaN;
  let live: number | undefined;
  // FANOUT_COORDINATORS=1 (or 1,3 ...): only those runs, for looking into one of them.
  const counts = (process.env.FANOUT_COORDINATORS ?? '1,2,3').split(',').map(Number);
  for (const n of counts) {
    const clients = perCoordinator * n;
    const r = await measure(n, clients, windowS, opts.log, live);
    live ??= r.liveBytesPerS;
    // Marginal cost of a client on the owner: all clients against one, over the extra ones.
    if (n === 1 && r.oneClientPercent !== undefined) ownerPerClient = (r.cpuPercent[0]! - r.oneClientPercent) / (clients - 1);
    if (n === 2 && r.oneClientPercent !== undefined) mirrorOne = r.oneClientPercent;
    if (n === 2 && r.idlePercent !== undefined) idleCoordinator = r.idlePercent;
    rows.push({ coordinators: r.coordinators, clients: r.clients, servedMbps: r.servedMbps, keptUp: r.keptUp, streaming: r.streaming, refusals: r.refusals, swarmPercent: r.swarmPercent, cpuPercent: r.cpuPercent, cpuMsPerServedMbit: r.cpuMsPerServedMbit });
  }
  return { rows, windowS, mirrorOneClientPercent: mirrorOne, idleCoordinatorPercent: idleCoordinator, ownerPerClientPercent: ownerPerClient, quotaCores: cpuLimited ? QUOTA_CORES : null };
}

// What changed since the run at 17d6440 (2026-12-03 14:54): kept beside the figures, as
// the reading of the earlier figures changed with it.
export const HISTORY = [
  'Before admission control (run at 17d6440, 2026-12-03, same machine and budget): 293, 429 (1.46 x) and 0 Mbit/s. Two things were wrong. The bench itself: its clients ran in the bench process, where Bun\'s fetch keeps at most 256 connections open unless BUN_CONFIG_MAX_HTTP_REQUESTS is set when the process starts, so the 2- and 3-coordinator rows had 256 clients, not 400 and 600 (429 Mbit/s is 256 clients at the live rate); they now run in a process of their own. And the 3-coordinator collapse: every coordinator took every viewer, its event loop fell 1-2 s behind, and then (a) past 2.25 s of lag the worker\'s gRPC keepalive dropped the owner (`worker lost: control stream ended`), its job failed and was retried on a coordinator no faster, and (b) the owner\'s membership renewal, queued behind its reaping of dead peers (each query one lag long), let its row lapse: a peer wrote its worker offline, failed its job and took its source with no worker to run it, and the mirrors ended.',
  '',
  'What changed (README "Overload"): a coordinator whose event loop lags on average 200 ms or more refuses new viewers (`503 overloaded`, Retry-After; `/healthz` 503) and keeps serving the ones it has, so its lag stays under the 2.25 s that loses its worker; the renewal of its membership no longer waits for the reaping; its own lag counts neither against its workers (the loss sweep), nor its variants (the stall watchdog), nor in quarantine.',
  '',
  'How much the rows move: each row is one saturated run, and what a coordinator serves depends on how many viewers got in before its lag showed and on its own cost as the producer (the owner alone with one client: 4.1-5.7% of a core between runs). Two full runs of this code on a quiet machine, 2026-12-03: 236 / 535 / 886 Mbit/s (2.26 x, 3.75 x) and 312 / 655 / 859 Mbit/s (2.10 x, 2.76 x, the table above); three more runs of one coordinator alone: 198, 233 and 312 Mbit/s. One full run while another test run kept the machine busy (load 3.4-5): 160 / 415 / 734 Mbit/s, nobody at the live rate.',
].join('\n');

export function clusterFanoutSection(r: FanoutResult): string {
  const base = r.rows[0]!;
  const budget = r.quotaCores === null ? 'no CPU budget could be set (no writable cgroup): every process shares the machine\'s cores, so the total cannot grow with coordinators here' : `each coordinator limited to ${r.quotaCores} of a core (a cgroup CFS quota, as \`docker run --cpus=${r.quotaCores}\`), so that on this one machine they stand for coordinators on hosts of their own and the coordinators, not the shared cores, bound what is served`;
  const swarm = Math.max(...r.rows.map((x) => x.swarmPercent));
  return [
    '## Fan-out over coordinators (issue 23)',
    '',
    `One variant (test pattern 640x360, ${PROFILE.videoBitrateKbps} kbit/s cap H.264 + AAC, one worker on the owner) and ${base.clients} MPEG-TS clients per coordinator reading as fast as it comes (more than one coordinator under its budget keeps at the live rate, so each configuration serves what it can): one coordinator, then 2 and 3 coordinators of one cluster on PostgreSQL with the clients spread evenly (the others serve from their mirror of the owner); ${budget}. The clients run in a process of their own (at most ${swarm.toFixed(0)}% of a core here), each on its coordinator; one refused with \`503 overloaded\` (admission control, TVARR_OVERLOAD_LAG_MS, default 200 ms) asks again after its Retry-After, jittered 0.5-1.5 x, as a player does, ${process.env.FANOUT_RETRY === 'next' ? 'at the next coordinator (FANOUT_RETRY=next: as behind a load balancer that health-checks /healthz)' : 'at the same coordinator (FANOUT_RETRY=next: at the next one, as behind a load balancer)'}. Window ${r.windowS} s; "kept up" = clients that got at least 90% of the live rate (one client of the owner alone, measured first); "streaming" = clients with a stream open at the end of the window; "refused" = 503 answers in the window. \`bun bench/run.ts --only=cluster-fanout\` (FANOUT_CORES, FANOUT_CLIENTS, FANOUT_COORDINATORS).`,
    '',
    '| coordinators | clients | served (Mbit/s) | kept up | streaming | refused | total served vs 1 coordinator | CPU per coordinator (% of a core) | CPU ms per served Mbit |',
    '|---:|---:|---:|---:|---:|---:|---:|---|---:|',
    ...r.rows.map((x) => `| ${x.coordinators} | ${x.clients} | ${x.servedMbps.toFixed(0)} | ${x.keptUp}/${x.clients} | ${x.streaming} | ${x.refusals} | ${(x.servedMbps / base.servedMbps).toFixed(2)} x | ${x.cpuPercent.map((c) => c.toFixed(1)).join(' / ')} | ${Number.isFinite(x.cpuMsPerServedMbit) ? x.cpuMsPerServedMbit.toFixed(2) : 'n/a'} |`),
    '',
    `What a mirror costs (same runs, under the same budget): a coordinator serving one client of a variant another coordinator owns (one internal stream in, one client out) takes ${r.mirrorOneClientPercent.toFixed(2)}% of a core, of which ${r.idleCoordinatorPercent.toFixed(2)}% is what the same coordinator took before, with nothing to serve (cluster lease renewals, sweeps, timers); one more client on the owner costs ${r.ownerPerClientPercent.toFixed(2)}% (its CPU with all its clients against one client, over the ${base.clients - 1} extra).`,
    ...(r.rows.some((x) => x.servedMbps === 0) ? ['', 'A row that served 0 Mbit/s: the variant had ended under that load before the window (every client gone, the coordinators idle).'] : []),
    '',
    HISTORY,
  ].join('\n');
}

if (import.meta.main) {
  const r = await benchClusterFanout({ quick: process.argv.includes('--quick'), log: (s) => process.stderr.write(s + '\n') });
  console.log(clusterFanoutSection(r));
  process.exit(0);
}
