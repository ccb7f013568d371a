// Scheduler benchmark: selection latency (the ranked query, LIMIT 1) and claims per
// second with 100, 1,000 and 10,000 registered workers, each with ~20 encoders and a
// realistic load. Also times the straightforward query (aggregate the jobs table per
// call) that scheduler_slots replaced, for comparison.
//
//   node_modules/.bin/bun bench/scheduler.ts            prints a markdown section
//   node_modules/.bin/bun bench/scheduler.ts --write    also replaces "## Scheduler" in docs/BENCHMARKS.md
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { jobs, openDatabase, type Db } from '../coordinator/db/client';
import type { EncoderCapability } from '../coordinator/domain';
import { checkSlotDrift } from '../coordinator/scheduler/check-slot-drift';
import { claimJob } from '../coordinator/scheduler/claim-job';
import { listCandidateWorkers } from '../coordinator/scheduler/list-candidate-workers';
import { upsertWorker } from '../coordinator/workers/worker-store';

const SIZES = [100, 1_000, 10_000];
const SELECTIONS = 5_000;
const CLAIMS = 2_000;
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

function buildCluster(db: Db, n: number): { liveJobs: number } {
  const rand = rng(n);
  db.$client.run('BEGIN');
  for (let i = 0; i < n; i++) {
    let r = rand();
    const shape = SHAPES.find((s) => (r -= s.weight) < 0) ?? SHAPES[SHAPES.length - 1]!;
    const maxGpu = shape.gpu ? 2 + Math.floor(rand() * 3) : 0;
    const maxCpu = 2 + Math.floor(rand() * 3);
    upsertWorker(
      db,
      {
        id: `worker-${String(i).padStart(6, '0')}`,
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
    if (rand() < 0.05) db.$client.run(`UPDATE workers SET state = 'offline' WHERE id = ?`, [`worker-${String(i).padStart(6, '0')}`]);
  }
  db.$client.run('COMMIT');
  // Realistic load: place jobs through the real claim until ~60% of all slots are taken
  // (so many workers are partly or completely full), plus finished history rows.
  const capacity = db.$client.query<{ n: number }, []>(`SELECT sum(max_jobs) AS n FROM workers WHERE state = 'online'`).get()!.n;
  const target = Math.floor(capacity * 0.6);
  const codecs = ['h264', 'h264', 'hevc', 'hevc', 'av1'];
  db.$client.run('BEGIN');
  let placed = 0;
  for (let i = 0; i < target; i++) {
    if (claimJob(db, { sourceId: 's', profileId: `p-${i}`, codec: codecs[i % codecs.length]!, preference: null, attempt: 1, now: NOW })) placed++;
  }
  db.$client.run(`UPDATE jobs SET state = 'running' WHERE state = 'pending'`);
  db.$client.run(`INSERT INTO jobs (id, run_id, source_id, profile_id, worker_id, encoder, kind, state, attempt, created_at)
                  SELECT 'hist-' || id, id, source_id, profile_id, worker_id, encoder, kind, 'completed', 1, created_at FROM jobs`);
  db.$client.run('COMMIT');
  db.$client.run('ANALYZE');
  return { liveJobs: placed };
}

// The query scheduler_slots replaced: aggregate live jobs per worker on every call.
function naiveSelect(db: Db, codec: string): unknown {
  return db.get(sql`
    WITH load AS (
      SELECT worker_id, count(*) AS jobs, sum(kind = 'gpu') AS gpu_jobs, sum(kind = 'cpu') AS cpu_jobs
        FROM jobs WHERE state IN ('pending', 'running') AND worker_id IS NOT NULL GROUP BY worker_id)
    SELECT w.id, e.encoder FROM worker_encoders e JOIN workers w ON w.id = e.worker_id LEFT JOIN load l ON l.worker_id = w.id
     WHERE e.codec = ${codec} AND w.state = 'online' AND (w.quarantined_until IS NULL OR w.quarantined_until <= ${NOW})
       AND coalesce(l.jobs, 0) < w.max_jobs
       AND CASE e.kind WHEN 'gpu' THEN coalesce(l.gpu_jobs, 0) < w.max_gpu_jobs ELSE coalesce(l.cpu_jobs, 0) < w.max_cpu_jobs END
     ORDER BY (e.kind = 'gpu') DESC, (coalesce(l.jobs, 0) * 1.0 / w.max_jobs), w.speed_fps DESC, w.id, e.encoder LIMIT 1`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function timeEach(n: number, fn: (i: number) => unknown): { p50: number; p99: number; max: number } {
  for (let i = 0; i < Math.min(200, n); i++) fn(i); // warm the page cache and statement cache
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = Bun.nanoseconds();
    fn(i);
    samples.push((Bun.nanoseconds() - t0) / 1e6);
  }
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1]! };
}

const ms = (v: number) => (v < 0.1 ? v.toFixed(3) : v.toFixed(2));

interface Row {
  workers: number;
  encoders: number;
  liveJobs: number;
  select: ReturnType<typeof timeEach>;
  selectPref: ReturnType<typeof timeEach>;
  naive: ReturnType<typeof timeEach>;
  claim: ReturnType<typeof timeEach>;
  claimsPerSec: number;
}

function benchSize(n: number): Row {
  const dir = mkdtempSync(join(tmpdir(), 'bench-scheduler-'));
  const db = openDatabase(join(dir, 'bench.db'));
  try {
    const { liveJobs } = buildCluster(db, n);
    const drift = checkSlotDrift(db);
    if (drift.stale.length || drift.missing.length) throw new Error('scheduler_slots drifted from the jobs table');
    const encoders = db.$client.query<{ n: number }, []>('SELECT count(*) AS n FROM worker_encoders').get()!.n;
    const codecs = ['h264', 'hevc', 'av1'];
    const select = timeEach(SELECTIONS, (i) => listCandidateWorkers(db, { codec: codecs[i % 3]!, preference: null, now: NOW, limit: 1 }));
    const selectPref = timeEach(SELECTIONS, (i) =>
      listCandidateWorkers(db, { codec: codecs[i % 3]!, preference: i % 2 ? 'vaapi' : 'cpu', now: NOW, limit: 1 }),
    );
    const naive = timeEach(n >= 10_000 ? 200 : 1_000, (i) => naiveSelect(db, codecs[i % 3]!));
    // Claims: each is a full write transaction (query, insert, trigger refresh, commit).
    // Each placed job finishes again right after (untimed), so the load stays at ~60%.
    const claimSamples: number[] = [];
    for (let i = 0; i < CLAIMS; i++) {
      const t0 = Bun.nanoseconds();
      const c = claimJob(db, { sourceId: 's', profileId: `bench-${i}`, codec: codecs[i % 3]!, preference: null, attempt: 1, now: NOW });
      claimSamples.push((Bun.nanoseconds() - t0) / 1e6);
      if (!c) throw new Error('a claim found no worker; the cluster filled up');
      db.update(jobs).set({ state: 'completed', endedAt: NOW }).where(eq(jobs.id, c.jobId)).run();
    }
    const claimsPerSec = (CLAIMS * 1000) / claimSamples.reduce((a, b) => a + b, 0);
    claimSamples.sort((a, b) => a - b);
    const claim = { p50: percentile(claimSamples, 50), p99: percentile(claimSamples, 99), max: claimSamples[claimSamples.length - 1]! };
    const after = checkSlotDrift(db);
    if (after.stale.length || after.missing.length) throw new Error('scheduler_slots drifted during claims');
    return { workers: n, encoders, liveJobs, select, selectPref, naive, claim, claimsPerSec };
  } finally {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
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

const rows = SIZES.map((n) => {
  process.stderr.write(`bench: ${n} workers...\n`);
  return benchSize(n);
});

const section = [
  '## Scheduler',
  '',
  'Generated by `node_modules/.bin/bun bench/scheduler.ts --write` (do not edit by hand).',
  '',
  machine(),
  '',
  `Each worker has ~20 encoders (NVIDIA, Intel, AMD and CPU-only shapes), limits 2-4 GPU + 2-4 CPU jobs; 5% offline, 3% draining.`,
  `Load: jobs placed through the real claim until ~60% of all slots are live (many workers partly or completely full), plus as many finished history rows.`,
  `Selection = the ranked candidate query with LIMIT 1 (${SELECTIONS} runs, codecs h264/hevc/av1; "with preference" alternates \`vaapi\` and \`cpu\`).`,
  `Claim = one BEGIN IMMEDIATE transaction: query, insert the job, triggers refresh that worker's scheduler_slots rows, commit (${CLAIMS} runs, file-backed WAL database, synchronous=NORMAL as in production); claims/s = back-to-back claims on one connection (each placed job is completed again, untimed, so the load stays level).`,
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

if (process.argv.includes('--write')) {
  const path = join(import.meta.dir, '..', 'docs', 'BENCHMARKS.md');
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  // Replace only our section: from "## Scheduler" to the next "## " heading.
  const re = /## Scheduler\n[\s\S]*?(?=\n## |$)/;
  const next = re.test(current) ? current.replace(re, section.trimEnd() + '\n') : current.trimEnd() + '\n\n' + section;
  writeFileSync(path, next);
  process.stderr.write(`bench: wrote the Scheduler section of ${path}\n`);
}
