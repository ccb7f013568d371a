// The coordinator's whole durable state. Everything a restart must not lose lives here;
// in-memory structures (shared buffers, open gRPC streams) are rebuilt from it.
import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export const sources = sqliteTable('sources', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  // http(s) URL of live MPEG-TS, any FFmpeg input, or "testpattern:" for the built-in pattern.
  url: text('url').notNull(),
  // Backup URLs, tried in order when the live one fails (JSON array; source-upstream.ts).
  backupUrls: text('backup_urls', { mode: 'json' }).$type<string[]>().notNull().default([]),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
});

export const profiles = sqliteTable('profiles', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  videoCodec: text('video_codec').notNull(), // h264 | hevc | av1 | vp9 | mpeg2video | copy
  // Optional preference: an exact encoder ("hevc_vaapi"), a family ("nvenc") or a kind ("gpu" | "cpu").
  encoderPreference: text('encoder_preference'),
  width: integer('width').notNull().default(0),
  height: integer('height').notNull().default(0),
  videoBitrateKbps: integer('video_bitrate_kbps').notNull().default(0),
  audioCodec: text('audio_codec').notNull().default('aac'),
  audioBitrateKbps: integer('audio_bitrate_kbps').notNull().default(128),
  gopFrames: integer('gop_frames').notNull().default(50),
  preset: text('preset'),
  hotStandby: integer('hot_standby', { mode: 'boolean' }).notNull().default(false),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
});

// A ladder: renditions of one source that an adaptive player switches between (HLS
// multivariant playlist, DASH). Each rendition is a profile id, top (largest) first; the
// ladder's id shares the URL space /stream/{source}/{id} with profiles, so the two never
// collide (coordinator/catalog/ladder-checks.ts).
export const ladders = sqliteTable('ladders', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  renditions: text('renditions', { mode: 'json' }).$type<string[]>().notNull(),
  createdAt: integer('created_at', { mode: 'number' }).notNull(),
});

export const workers = sqliteTable(
  'workers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    hostname: text('hostname').notNull().default(''),
    address: text('address').notNull().default(''),
    ffmpegVersion: text('ffmpeg_version').notNull().default(''),
    state: text('state').notNull(), // WorkerState
    maxJobs: integer('max_jobs').notNull(),
    maxGpuJobs: integer('max_gpu_jobs').notNull(),
    maxCpuJobs: integer('max_cpu_jobs').notNull(),
    speedFps: real('speed_fps').notNull().default(0),
    gpus: text('gpus', { mode: 'json' }).notNull().default(sql`'[]'`),
    rejectedEncoders: text('rejected_encoders', { mode: 'json' }).notNull().default(sql`'[]'`),
    usage: text('usage', { mode: 'json' }),
    registeredAt: integer('registered_at', { mode: 'number' }).notNull(),
    lastSeenAt: integer('last_seen_at', { mode: 'number' }).notNull(),
    quarantinedUntil: integer('quarantined_until', { mode: 'number' }),
    quarantineReason: text('quarantine_reason'),
    // The coordinator holding its Control stream (coordinators.id); null before cluster mode.
    coordinatorId: text('coordinator_id'),
  },
  (t) => [index('workers_state_idx').on(t.state), index('workers_coordinator_idx').on(t.coordinatorId)],
);

// One row per encoder a worker proved it can run (the probe test-encoded it).
export const workerEncoders = sqliteTable(
  'worker_encoders',
  {
    workerId: text('worker_id')
      .notNull()
      .references(() => workers.id, { onDelete: 'cascade' }),
    encoder: text('encoder').notNull(),
    codec: text('codec').notNull(),
    kind: text('kind').notNull(), // 'gpu' | 'cpu'
    family: text('family').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workerId, t.encoder] }),
    index('worker_encoders_codec_idx').on(t.codec, t.kind, t.workerId),
  ],
);

// The scheduler's read model: one row per worker encoder with that worker's live load
// folded in, so the ranked candidate query is one ordered index walk that stops at the
// first eligible row instead of aggregating the whole jobs table. Never written by
// application code: SQLite triggers (migrations/0002_scheduler-slot-triggers.sql)
// rebuild a worker's rows from the jobs table itself whenever a job, the worker or its
// encoders change, inside the same transaction. The jobs table stays the truth; the
// view scheduler_slot_source recomputes these rows from it (the drift check compares).
export const schedulerSlots = sqliteTable(
  'scheduler_slots',
  {
    workerId: text('worker_id').notNull(),
    encoder: text('encoder').notNull(),
    codec: text('codec').notNull(),
    kind: text('kind').notNull(), // 'gpu' | 'cpu'
    family: text('family').notNull(),
    kindRank: integer('kind_rank').notNull(), // 0 = GPU, 1 = CPU: GPU encoders rank first
    workerState: text('worker_state').notNull(),
    quarantinedUntil: integer('quarantined_until', { mode: 'number' }),
    speedFps: real('speed_fps').notNull(),
    maxJobs: integer('max_jobs').notNull(),
    maxGpuJobs: integer('max_gpu_jobs').notNull(),
    maxCpuJobs: integer('max_cpu_jobs').notNull(),
    jobs: integer('jobs').notNull(),
    gpuJobs: integer('gpu_jobs').notNull(),
    cpuJobs: integer('cpu_jobs').notNull(),
    loadRatio: real('load_ratio').notNull(),
    // online, a free slot overall and a free slot of this encoder's kind
    eligible: integer('eligible', { mode: 'boolean' }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workerId, t.encoder] }),
    // Equality on (codec, eligible), then exactly the ranking's ORDER BY: SQLite walks
    // this index in order and LIMIT 1 stops at the first row passing the residual filters.
    index('scheduler_slots_rank_idx').on(
      t.codec,
      t.eligible,
      t.kindRank,
      t.loadRatio,
      sql`${t.speedFps} desc`,
      t.workerId,
      t.encoder,
    ),
    // The same walk for a profile that prefers a family ("vaapi") or one encoder.
    index('scheduler_slots_family_rank_idx').on(
      t.codec,
      t.eligible,
      t.family,
      t.kindRank,
      t.loadRatio,
      sql`${t.speedFps} desc`,
      t.workerId,
      t.encoder,
    ),
    index('scheduler_slots_encoder_rank_idx').on(t.codec, t.eligible, t.encoder, t.kindRank, t.loadRatio, sql`${t.speedFps} desc`, t.workerId),
  ],
);

export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    // Every attempt is its own row; the attempts of one variant run share runId (the first attempt's id).
    runId: text('run_id').notNull(),
    sourceId: text('source_id').notNull(),
    profileId: text('profile_id').notNull(),
    workerId: text('worker_id'),
    encoder: text('encoder'),
    kind: text('kind'), // 'gpu' | 'cpu' for the encoder chosen
    role: text('role').notNull().default('primary'), // 'primary' | 'standby'
    state: text('state').notNull(), // JobState
    attempt: integer('attempt').notNull(),
    createdAt: integer('created_at', { mode: 'number' }).notNull(),
    startedAt: integer('started_at', { mode: 'number' }),
    endedAt: integer('ended_at', { mode: 'number' }),
    failureReason: text('failure_reason'),
    stats: text('stats', { mode: 'json' }),
    // The coordinator that claimed it and relays it (coordinators.id): a dead one's live
    // jobs are failed by the survivors, a restarted one's by itself.
    coordinatorId: text('coordinator_id'),
    // Worker slots this attempt holds: 1, or one per rendition of a ladder job (proto
    // TranscodeSpec.renditions). Capacity is the sum over a worker's live jobs.
    slots: integer('slots').notNull().default(1),
  },
  (t) => [
    // Capacity is counted from live jobs per worker: this index serves that count.
    index('jobs_worker_state_idx').on(t.workerId, t.state, t.kind),
    index('jobs_variant_state_idx').on(t.sourceId, t.profileId, t.state),
    index('jobs_run_idx').on(t.runId, t.attempt),
  ],
);

// Counters that survive restarts. workerId '' is the cluster-wide row.
export const metrics = sqliteTable(
  'metrics',
  {
    name: text('name').notNull(),
    workerId: text('worker_id').notNull().default(''),
    value: real('value').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.name, t.workerId] })],
);

// Quarantine fault memory (coordinator/workers/quarantine.ts): each fault or suspect of a
// worker within the window, so a restart (or another coordinator) does not start it clean.
// kind: 'connection' | 'ffmpeg' (a fault) | 'suspect' (an FFmpeg failure not yet proven a fault).
export const workerFaults = sqliteTable(
  'worker_faults',
  {
    id: text('id').primaryKey(),
    workerId: text('worker_id').notNull(),
    kind: text('kind').notNull(),
    at: integer('at', { mode: 'number' }).notNull(),
    detail: text('detail').notNull(),
    jobId: text('job_id'),
    profileId: text('profile_id'),
    encoder: text('encoder'),
  },
  (t) => [index('worker_faults_worker_idx').on(t.workerId, t.at)],
);

// The coordinators on this database (coordinator/cluster/membership.ts): each process adds
// its row at start and renews it every TVARR_CLUSTER_RENEW_MS; a row whose expires_at has
// passed is a dead coordinator (its workers are written offline, its sources taken over).
// clients and sources are what it reported at its last renewal.
export const coordinators = sqliteTable('coordinators', {
  id: text('id').primaryKey(),
  httpUrl: text('http_url').notNull(),
  grpcAddr: text('grpc_addr').notNull(),
  startedAt: integer('started_at', { mode: 'number' }).notNull(),
  renewedAt: integer('renewed_at', { mode: 'number' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
  stoppedAt: integer('stopped_at', { mode: 'number' }),
  clients: integer('clients').notNull().default(0),
  sources: integer('sources').notNull().default(0),
});

// One owner coordinator per source in the whole cluster (coordinator/cluster/source-leases.ts):
// it alone holds the upstream connection and runs the source's jobs; the others serve
// their viewers from it. token is the fencing token: it grows at every change of owner,
// and every write an owner makes for the source names it, so a paused owner's late
// writes (after another took over) match nothing.
export const sourceLeases = sqliteTable('source_leases', {
  sourceId: text('source_id').primaryKey(),
  ownerId: text('owner_id').notNull(),
  token: integer('token', { mode: 'number' }).notNull(),
  acquiredAt: integer('acquired_at', { mode: 'number' }).notNull(),
  expiresAt: integer('expires_at', { mode: 'number' }).notNull(),
});

// Coordinator-wide settings shared by every coordinator on this database, e.g.
// 'admin_token_sha256' (the generated admin token's digest: the token itself is never stored).
export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at', { mode: 'number' }).notNull(),
});
