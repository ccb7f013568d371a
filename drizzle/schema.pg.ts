// The same state as drizzle/schema.ts, for PostgreSQL (TVARR_DATABASE_URL). Same table and
// column names and the same meaning, so one set of store functions runs on both
// (coordinator/db/store.ts). Where PostgreSQL differs it is made to mean what SQLite does:
// - Text compares in byte order (COLLATE "C"), like SQLite's BINARY: the scheduler's
//   tie-break on worker id and encoder, and every ORDER BY on ids, come out identical.
// - Millisecond timestamps are bigint (int4 ends in 2038 as seconds, far sooner as ms).
// - Measures are double precision, never `real` (4 bytes: a byte counter would lose
//   precision past 16 MiB); JSON is jsonb; flags are boolean.
// Keep the two files in step: tests/unit/schema-engines.test.ts compares them.
import { sql } from 'drizzle-orm';
import { bigint, boolean, customType, doublePrecision, index, integer, jsonb, pgTable, primaryKey } from 'drizzle-orm/pg-core';

/** text in byte order (see above). */
const text = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});
const ms = (name: string) => bigint(name, { mode: 'number' });

export const sources = pgTable('sources', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  url: text('url').notNull(),
  backupUrls: jsonb('backup_urls').$type<string[]>().notNull().default([]),
  createdAt: ms('created_at').notNull(),
});

export const profiles = pgTable('profiles', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  videoCodec: text('video_codec').notNull(),
  encoderPreference: text('encoder_preference'),
  width: integer('width').notNull().default(0),
  height: integer('height').notNull().default(0),
  videoBitrateKbps: integer('video_bitrate_kbps').notNull().default(0),
  audioCodec: text('audio_codec').notNull().default('aac'),
  audioBitrateKbps: integer('audio_bitrate_kbps').notNull().default(128),
  gopFrames: integer('gop_frames').notNull().default(50),
  preset: text('preset'),
  hotStandby: boolean('hot_standby').notNull().default(false),
  createdAt: ms('created_at').notNull(),
});

export const ladders = pgTable('ladders', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  renditions: jsonb('renditions').$type<string[]>().notNull(),
  createdAt: ms('created_at').notNull(),
});

export const workers = pgTable(
  'workers',
  {
    id: text('id').primaryKey(),
    name: text('name').notNull(),
    version: text('version').notNull(),
    hostname: text('hostname').notNull().default(''),
    address: text('address').notNull().default(''),
    ffmpegVersion: text('ffmpeg_version').notNull().default(''),
    state: text('state').notNull(),
    maxJobs: integer('max_jobs').notNull(),
    maxGpuJobs: integer('max_gpu_jobs').notNull(),
    maxCpuJobs: integer('max_cpu_jobs').notNull(),
    speedFps: doublePrecision('speed_fps').notNull().default(0),
    gpus: jsonb('gpus').notNull().default(sql`'[]'::jsonb`),
    rejectedEncoders: jsonb('rejected_encoders').notNull().default(sql`'[]'::jsonb`),
    usage: jsonb('usage'),
    registeredAt: ms('registered_at').notNull(),
    lastSeenAt: ms('last_seen_at').notNull(),
    quarantinedUntil: ms('quarantined_until'),
    quarantineReason: text('quarantine_reason'),
    coordinatorId: text('coordinator_id'),
  },
  (t) => [index('workers_state_idx').on(t.state), index('workers_coordinator_idx').on(t.coordinatorId)],
);

export const workerEncoders = pgTable(
  'worker_encoders',
  {
    workerId: text('worker_id')
      .notNull()
      .references(() => workers.id, { onDelete: 'cascade' }),
    encoder: text('encoder').notNull(),
    codec: text('codec').notNull(),
    kind: text('kind').notNull(),
    family: text('family').notNull(),
  },
  (t) => [primaryKey({ columns: [t.workerId, t.encoder] }), index('worker_encoders_codec_idx').on(t.codec, t.kind, t.workerId)],
);

// The scheduler's read model, kept by triggers (migrations-pg/0001_scheduler-slot-triggers.sql).
export const schedulerSlots = pgTable(
  'scheduler_slots',
  {
    workerId: text('worker_id').notNull(),
    encoder: text('encoder').notNull(),
    codec: text('codec').notNull(),
    kind: text('kind').notNull(),
    family: text('family').notNull(),
    kindRank: integer('kind_rank').notNull(),
    workerState: text('worker_state').notNull(),
    quarantinedUntil: ms('quarantined_until'),
    speedFps: doublePrecision('speed_fps').notNull(),
    maxJobs: integer('max_jobs').notNull(),
    maxGpuJobs: integer('max_gpu_jobs').notNull(),
    maxCpuJobs: integer('max_cpu_jobs').notNull(),
    jobs: integer('jobs').notNull(),
    gpuJobs: integer('gpu_jobs').notNull(),
    cpuJobs: integer('cpu_jobs').notNull(),
    loadRatio: doublePrecision('load_ratio').notNull(),
    eligible: boolean('eligible').notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.workerId, t.encoder] }),
    index('scheduler_slots_rank_idx').on(t.codec, t.eligible, t.kindRank, t.loadRatio, t.speedFps.desc(), t.workerId, t.encoder),
    index('scheduler_slots_family_rank_idx').on(t.codec, t.eligible, t.family, t.kindRank, t.loadRatio, t.speedFps.desc(), t.workerId, t.encoder),
    index('scheduler_slots_encoder_rank_idx').on(t.codec, t.eligible, t.encoder, t.kindRank, t.loadRatio, t.speedFps.desc(), t.workerId),
  ],
);

export const jobs = pgTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    runId: text('run_id').notNull(),
    sourceId: text('source_id').notNull(),
    profileId: text('profile_id').notNull(),
    workerId: text('worker_id'),
    encoder: text('encoder'),
    kind: text('kind'),
    role: text('role').notNull().default('primary'),
    state: text('state').notNull(),
    attempt: integer('attempt').notNull(),
    createdAt: ms('created_at').notNull(),
    startedAt: ms('started_at'),
    endedAt: ms('ended_at'),
    failureReason: text('failure_reason'),
    stats: jsonb('stats'),
    coordinatorId: text('coordinator_id'),
    // Worker slots this attempt holds: 1, or one per rendition of a ladder job (proto
    // TranscodeSpec.renditions). Capacity is the sum over a worker's live jobs.
    slots: integer('slots').notNull().default(1),
  },
  (t) => [
    index('jobs_worker_state_idx').on(t.workerId, t.state, t.kind),
    index('jobs_variant_state_idx').on(t.sourceId, t.profileId, t.state),
    index('jobs_run_idx').on(t.runId, t.attempt),
  ],
);

export const metrics = pgTable(
  'metrics',
  {
    name: text('name').notNull(),
    workerId: text('worker_id').notNull().default(''),
    value: doublePrecision('value').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.name, t.workerId] })],
);

export const workerFaults = pgTable(
  'worker_faults',
  {
    id: text('id').primaryKey(),
    workerId: text('worker_id').notNull(),
    kind: text('kind').notNull(),
    at: ms('at').notNull(),
    detail: text('detail').notNull(),
    jobId: text('job_id'),
    profileId: text('profile_id'),
    encoder: text('encoder'),
  },
  (t) => [index('worker_faults_worker_idx').on(t.workerId, t.at)],
);

export const coordinators = pgTable('coordinators', {
  id: text('id').primaryKey(),
  httpUrl: text('http_url').notNull(),
  grpcAddr: text('grpc_addr').notNull(),
  startedAt: ms('started_at').notNull(),
  renewedAt: ms('renewed_at').notNull(),
  expiresAt: ms('expires_at').notNull(),
  stoppedAt: ms('stopped_at'),
  clients: integer('clients').notNull().default(0),
  sources: integer('sources').notNull().default(0),
});

export const sourceLeases = pgTable('source_leases', {
  sourceId: text('source_id').primaryKey(),
  ownerId: text('owner_id').notNull(),
  token: ms('token').notNull(),
  acquiredAt: ms('acquired_at').notNull(),
  expiresAt: ms('expires_at').notNull(),
});

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: ms('updated_at').notNull(),
});
