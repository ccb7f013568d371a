// Scheduler benchmark: selection latency (the ranked query, LIMIT 1) and claims per
// second with 100, 1,000 and 10,000 registered workers, each with ~20 encoders and a
// realistic load. Also times the straightforward query (aggregate the jobs table per
// call) that scheduler_slots replaced, for comparison.
//
//   node_modules/.bin/bun bench/scheduler.ts                     prints a markdown section (SQLite)
//   node_modules/.bin/bun bench/scheduler.ts --write             also replaces "## Scheduler" in docs/BENCHMARKS.md
//   node_modules/.bin/bun bench/scheduler.ts --engine=postgres   the same on PostgreSQL (a private server from
//                                                                tests/helpers/postgres.ts); --write replaces
//                                                                "## Scheduler (PostgreSQL)"
//   node_modules/.bin/bun bench/scheduler.ts --quick             100 workers, fewer runs: a smoke test (never --write)
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { openPostgresStore } from '../coordinator/db/postgres-store';
import { openSqliteStore } from '../coordinator/db/sqlite-store';
import type { Engine, Store } from '../coordinator/db/store';
import type { EncoderCapability } from '../coordinator/domain';
import { checkSlotDrift } from '../coordinator/scheduler/check-slot-drift';
import { claimJob } from '../coordinator/scheduler/claim-job';
import { listCandidateWorkers } from '../coordinator/scheduler/list-candidate-workers';
import { upsertWorker } from '../coordinator/workers/worker-store';
import { sharedPostgres, type PgServer } from '../tests/helpers/postgres';

const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ENGINE = (arg('engine') ?? 'sqlite') as Engine;
if (ENGINE !== 'sqlite' && ENGINE !== 'postgres') throw new Error(`--engine: expected sqlite or postgres, got ${ENGINE}`);
const QUICK = process.argv.includes('--quick');
const WRITE = process.argv.includes('--write');
if (QUICK && WRITE) throw new Error('--quick is a smoke test: its numbers are not written to docs/BENCHMARKS.md');

const SIZES = QUICK ? [100] : [100, 1_000, 10_000];
const SELECTIONS = QUICK ? 500 : 5_000;
const CLAIMS = QUICK ? 200 : 2_000;
const NOW = 1_000_000;

// Deterministic PRNG: every run builds the same cluster.
function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const sw = (name: string, codec: string): EncoderCapability => ({ name, codec, kind: 'cpu', family: 'software' });
const hw = (family: string, codecs: string[]): EncoderCapability[] =>
  codecs.map((c) => ({ name: `${c === 'mpeg2video' ? 'mpeg2' : c}_${family}`, codec: c, kind: 'gpu', family }));
const SOFTWARE = [
  sw('libx264', 'h264'), sw('libx264rgb', 'h264'), sw('libopenh264', 'h264'), sw('libx265', 'hevc'), sw('libsvtav1', 'av1'),
  sw('libaom-av1', 'av1'), sw('librav1e', 'av1'), sw('libvpx-vp9', 'vp9'), sw('libvpx', 'vp8'), sw('mpeg2video', 'mpeg2video'),
  sw('mpeg4', 'mpeg4'), sw('libtheora', 'theora'), sw('mjpeg', 'mjpeg'),
];
// Worker shapes: NVIDIA, Intel (VAAPI + QSV), AMD (VAAPI + AMF), CPU only. ~20 encoders each.
const SHAPES = [
  { weight: 0.3, gpu: 2, encoders: [...SOFTWARE, ...hw('nvenc', ['h264', 'hevc', 'av1']), ...hw('cuvid', ['mjpeg']), ...hw('nvenc_alt', ['h264', 'hevc'])] },
  { weight: 0.25, gpu: 2, encoders: [...SOFTWARE, ...hw('vaapi', ['h264', 'hevc', 'av1', 'vp9', 'mpeg2video']), ...hw('qsv', ['h264', 'hevc'])] },
  { weight: 0.1, gpu: 2, encoders: [...SOFTWARE, ...hw('vaapi', ['h264', 'hevc', 'av1']), ...hw('amf', ['h264', 'hevc', 'av1'])] },
  { weight: 0.35, gpu: 0, encoders: [...SOFTWARE, sw('libkvazaar', 'hevc'), sw('libxavs2', 'avs2'), sw('prores_ks', 'prores'), sw('dnxhd', 'dnxhd'), sw('ffv1', 'ffv1'), sw('libwebp', 'webp')] },
];

async function buildCluster(store: Store, n: number): Promise<{ liveJobs: number }> {
  const { db, t } = store;
  const rand = rng(n);
  for (let i = 0; i < n; i++) {
    let r = rand();
    const shape = SHAPES.find((s) => (r -= s.weight) < 0) ?? SHAPES[SHAPES.length - 1]!;
    const maxGpu = shape.gpu ? 2 + Math.floor(rand() * 3) : 0;
    const maxCpu = 2 + Math.floor(rand() * 3);
    const id = `worker-${String(i).padStart(6, '0')}`;
    // One transaction per worker, as registrations arrive (upsertWorker's own).
    await upsertWorker(
      store,
      {
        id,
        name: `worker ${i}`,
        version: 'bench',
        hostname: `host-${i}`,
        address: '10.0.0.1',
        ffmpegVersion: '5.1',
        encoders: shape.encoders,
        rejectedEncoders: [],
        gpus: [],
        limits: { maxJobs: maxGpu + maxCpu, maxGpuJobs: maxGpu, maxCpuJobs: maxCpu },
        speedFps: Math.round(60 + rand() * 400),
        activeJobs: [],
        draining: rand() < 0.03,
      },
      NOW,
    );
    if (rand() < 0.05) await db.update(t.workers).set({ state: 'offline' }).where(eq(t.workers.id, id));
  }
  // Realistic load: place jobs through the real claim until ~60% of all slots are taken
  // (so many workers are partly or completely full), plus finished history rows.
  const [cap] = await db
    .select({ n: sql<number>`coalesce(sum(${t.workers.maxJobs}), 0)`.mapWith(Number) })
    .from(t.workers)
    .where(eq(t.workers.state, 'online'));
  const target = Math.floor((cap?.n ?? 0) * 0.6);
  const codecs = ['h264', 'h264', 'hevc', 'hevc', 'av1'];
  let placed = 0;
  for (let i = 0; i < target; i++) {
    if (await claimJob(store, { sourceId: 's', profileId: `p-${i}`, codec: codecs[i % codecs.length]!, preference: null, attempt: 1, now: NOW })) placed++;
  }
  await store.transaction(async (tx) => {
    await tx.update(t.jobs).set({ state: 'running' }).where(eq(t.jobs.state, 'pending'));
    await tx.insert(t.jobs).select(
      tx
        .select({
          id: sql<string>`'hist-' || ${t.jobs.id}`.as('id'),
          runId: t.jobs.id,
          sourceId: t.jobs.sourceId,
          profileId: t.jobs.profileId,
          workerId: t.jobs.workerId,
          encoder: t.jobs.encoder,
          kind: t.jobs.kind,
          role: t.jobs.role,
          state: sql<string>`'completed'`.as('state'),
          attempt: sql<number>`1`.as('attempt'),
          createdAt: t.jobs.createdAt,
          startedAt: t.jobs.startedAt,
          endedAt: t.jobs.endedAt,
          failureReason: t.jobs.failureReason,
          stats: t.jobs.stats,
        })
        .from(t.jobs),
    );
  });
  await store.rows(sql`ANALYZE`);
  return { liveJobs: placed };
}

// The query scheduler_slots replaced: aggregate live jobs per worker on every call.
// Portable SQL (the same text on both engines).
function naiveSelect(store: Store, codec: string): Promise<unknown> {
  return store.rows(sql`
    WITH load AS (
      SELECT worker_id, count(*) AS jobs,
             sum(CASE WHEN kind = 'gpu' THEN 1 ELSE 0 END) AS gpu_jobs,
             sum(CASE WHEN kind = 'cpu' THEN 1 ELSE 0 END) AS cpu_jobs
        FROM jobs WHERE state IN ('pending', 'running') AND worker_id IS NOT NULL GROUP BY worker_id)
    SELECT w.id, e.encoder FROM worker_encoders e JOIN workers w ON w.id = e.worker_id LEFT JOIN load l ON l.worker_id = w.id
     WHERE e.codec = ${codec} AND w.state = 'online' AND (w.quarantined_until IS NULL OR w.quarantined_until <= ${NOW})
       AND coalesce(l.jobs, 0) < w.max_jobs
       AND CASE e.kind WHEN 'gpu' THEN coalesce(l.gpu_jobs, 0) < w.max_gpu_jobs ELSE coalesce(l.cpu_jobs, 0) < w.max_cpu_jobs END
     ORDER BY CASE e.kind WHEN 'gpu' THEN 0 ELSE 1 END, (coalesce(l.jobs, 0) * 1.0 / w.max_jobs), w.speed_fps DESC, w.id, e.encoder LIMIT 1`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeEach(n: number, fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number; max: number }> {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i); // warm the page cache and statement cache
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Bun.nanoseconds();
    await fn(i);
    samples.push((Bun.nanoseconds() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1]! };
}

const ms = (v: number) => (v < 0.1 ? v.toFixed(3) : v.toFixed(2));

type Timing = Awaited<ReturnType<typeof timeEach>>;

interface Row {
  workers: number;
  encoders: number;
  liveJobs: number;
  select: Timing;
  selectPref: Timing;
  naive: Timing;
  claim: Timing;
  claimsPerSec: number;
}

/** A fresh, empty database on the engine under test. */
async function openBenchStore(n: number): Promise<{ store: Store; close(): Promise<void> }> {
  if (ENGINE === 'postgres') {
    const store = await openPostgresStore(await (await postgres()).createDatabase(`bench_scheduler_${n}`));
    return { store, close: () => store.close() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-scheduler-'));
  const store = openSqliteStore(join(dir, 'bench.db'));
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let pg: Promise<PgServer> | undefined;
const postgres = () => (pg ??= sharedPostgres());

async function benchSize(n: number): Promise<Row> {
  const { store, close } = await openBenchStore(n);
  const { db, t } = store;
  try {
    const { liveJobs } = await buildCluster(store, n);
    const drift = await checkSlotDrift(store);
    if (drift.stale.length || drift.missing.length) throw new Error('scheduler_slots drifted from the jobs table');
    const [enc] = await db.select({ n: sql<number>`count(*)`.mapWith(Number) }).from(t.workerEncoders);
    const encoders = enc?.n ?? 0;
    const codecs = ['h264', 'hevc', 'av1'];
    const select = await timeEach(SELECTIONS, (i) => listCandidateWorkers(store, { codec: codecs[i % 3]!, preference: null, now: NOW, limit: 1 }));
    const selectPref = await timeEach(SELECTIONS, (i) =>
      listCandidateWorkers(store, { codec: codecs[i % 3]!, preference: i % 2 ? 'vaapi' : 'cpu', now: NOW, limit: 1 }),
    );
    const naive = await timeEach(n >= 10_000 ? 200 : 1_000, (i) => naiveSelect(store, codecs[i % 3]!));
    // Claims: each is a full write transaction (query, insert, trigger refresh, commit).
    // Each placed job finishes again right after (untimed), so the load stays at ~60%.
    const claimSamples: number[] = [];
    for (let i = 0; i < CLAIMS; i++) {
      const t0 = Bun.nanoseconds();
      const c = await claimJob(store, { sourceId: 's', profileId: `bench-${i}`, codec: codecs[i % 3]!, preference: null, attempt: 1, now: NOW });
      claimSamples.push((Bun.nanoseconds() - t0) / 1e6);
      if (!c) throw new Error('a claim found no worker; the cluster filled up');
      await db.update(t.jobs).set({ state: 'completed', endedAt: NOW }).where(eq(t.jobs.id, c.jobId));
    }
    const claimsPerSec = (CLAIMS * 1000) / claimSamples.reduce((a, b) => a + b, 0);
    claimSamples.sort((a, b) => a - b);
    const claim = { p50: percentile(claimSamples, 50), p99: percentile(claimSamples, 99), max: claimSamples[claimSamples.length - 1]! };
    const after = await checkSlotDrift(store);
    if (after.stale.length || after.missing.length) throw new Error('scheduler_slots drifted during claims');
    return { workers: n, encoders, liveJobs, select, selectPref, naive, claim, claimsPerSec };
  } finally {
    await close();
  }
}

function machine(): string {
  const nproc = Bun.spawnSync(['nproc']).stdout.toString().trim() || String(cpus().length);
  const free = Bun.spawnSync(['free', '-g']).stdout.toString().trim();
  return [
    `Run ${new Date().toISOString()} with Bun ${Bun.version}`,
    `on ${cpus()[0]?.model ?? 'unknown CPU'}, nproc ${nproc}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} GiB free).`,
    '',
    '```',
    '$ free -g',
    free,
    '```',
  ].join('\n');
}

const rows: Row[] = [];
for (const n of SIZES) {
  process.stderr.write(`bench: ${ENGINE}, ${n} workers...\n`);
  rows.push(await benchSize(n));
}

async function serverVersion(): Promise<string> {
  if (ENGINE === 'sqlite') return '';
  const { store, close } = await openBenchStore(0);
  try {
    const [row] = await store.rows<{ server_version: string }>(sql`SHOW server_version`);
    return row?.server_version.split(' ')[0] ?? 'unknown';
  } finally {
    await close();
  }
}
const pgVersion = await serverVersion();
if (pg) await (await pg).stop();

const TITLE = ENGINE === 'sqlite' ? '## Scheduler' : '## Scheduler (PostgreSQL)';
const CLAIM_TEXT =
  ENGINE === 'sqlite'
    ? `Claim = one BEGIN IMMEDIATE transaction: query, insert the job, triggers refresh that worker's scheduler_slots rows, commit (${CLAIMS} runs, file-backed WAL database, synchronous=NORMAL as in production); claims/s = back-to-back claims on one connection (each placed job is completed again, untimed, so the load stays level).`
    : `Claim = one transaction under the claim advisory lock: query, insert the job, triggers refresh that worker's scheduler_slots rows (per-worker advisory lock), commit (${CLAIMS} runs, PostgreSQL ${pgVersion} on this machine over TCP loopback, the test helper's server: fsync=off and synchronous_commit=off, so commits cost no disk flush); claims/s = back-to-back claims from one process (each placed job is completed again, untimed, so the load stays level).`;

const section = [
  TITLE,
  '',
  `Generated by \`node_modules/.bin/bun bench/scheduler.ts${ENGINE === 'sqlite' ? '' : ' --engine=postgres'} --write\` (do not edit by hand).`,
  '',
  machine(),
  '',
  `Each worker has ~20 encoders (NVIDIA, Intel, AMD and CPU-only shapes), limits 2-4 GPU + 2-4 CPU jobs; 5% offline, 3% draining.`,
  `Load: jobs placed through the real claim until ~60% of all slots are live (many workers partly or completely full), plus as many finished history rows.`,
  `Selection = the ranked candidate query with LIMIT 1 (${SELECTIONS} runs, codecs h264/hevc/av1; "with preference" alternates \`vaapi\` and \`cpu\`).`,
  CLAIM_TEXT,
  `"Aggregate query" is the straightforward form that counts live jobs per worker on every call, kept here for comparison.`,
  '',
  '| workers | encoder rows | live jobs | selection p50 ms | selection p99 ms | with preference p50 / p99 ms | claim p50 ms | claim p99 ms | claims/s | aggregate query p50 / p99 ms |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.workers.toLocaleString('en')} | ${r.encoders.toLocaleString('en')} | ${r.liveJobs.toLocaleString('en')} | ${ms(r.select.p50)} | ${ms(r.select.p99)} | ${ms(r.selectPref.p50)} / ${ms(r.selectPref.p99)} | ${ms(r.claim.p50)} | ${ms(r.claim.p99)} | ${Math.round(r.claimsPerSec).toLocaleString('en')} | ${ms(r.naive.p50)} / ${ms(r.naive.p99)} |`,
  ),
  '',
].join('\n');

console.log(section);

if (WRITE) {
  const path = join(import.meta.dir, '..', 'docs', 'BENCHMARKS.md');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  // Replace only our section: from its heading to the next "## " heading.
  const re = new RegExp(`${TITLE.replace(/[()]/g, '\\$&')}\\n[\\s\\S]*?(?=\\n## |$)`);
  const next = re.test(current) ? current.replace(re, section.trimEnd() + '\n') : current.trimEnd() + '\n\n' + section;
  writeFileSync(path, next);
  process.stderr.write(`bench: wrote the "${TITLE.slice(3)}" section of ${path}\n`);
}
