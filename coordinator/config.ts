// Parses the coordinator's environment once, into a frozen typed object. Nothing else
// reads Bun.env / process.env. A bad value stops start-up with one line naming the variable.
import * as fs from 'node:fs';
import { type TSchema, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_LIVENESS, defaultLossDeadlineMs, deriveLiveness } from '../common/liveness';

const Bool = Type.Union([Type.Literal('true'), Type.Literal('false'), Type.Literal('1'), Type.Literal('0')]);
const Port = Type.Integer({ minimum: 0, maximum: 65535 });
const Millis = (min: number) => Type.Integer({ minimum: min, maximum: 86_400_000 });
const Host = Type.String({ pattern: '^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\\[?[0-9A-Fa-f:.]+\\]?)$' });
// Printable ASCII without spaces: the token travels as a header value (gRPC metadata, HTTP bearer).
const Token = Type.String({ minLength: 8, maxLength: 4096, pattern: '^[\\x21-\\x7e]+$' });
const PemFile = Type.String({ minLength: 1 });

interface VarSpec {
  schema: TSchema;
  expected: string;
  fallback?: string;
  numeric?: boolean;
  /** A path that must name a readable PEM file. */
  pem?: boolean;
}

// Each variable: its schema, a human description of the expected form, and its default.
const VARS = {
  TVARR_HTTP_HOST: { schema: Host, expected: 'a host name or address', fallback: '0.0.0.0' },
  TVARR_HTTP_PORT: { schema: Port, expected: 'a port number 0-65535', fallback: '8080', numeric: true },
  TVARR_GRPC_ENABLED: { schema: Bool, expected: 'true or false', fallback: 'true' },
  TVARR_GRPC_HOST: { schema: Host, expected: 'a host name or address', fallback: '0.0.0.0' },
  TVARR_GRPC_PORT: { schema: Port, expected: 'a port number 0-65535', fallback: '9090', numeric: true },
  TVARR_GRPC_AUTH_TOKEN: { schema: Token, expected: 'a token of at least 8 characters (printable ASCII, no spaces)' },
  // gRPC TLS. Cert and key together turn TLS on; a client CA on top requires and verifies
  // worker certificates (mutual TLS). Without TLS a set token travels in clear text.
  TVARR_GRPC_TLS_CERT_FILE: { schema: PemFile, expected: 'a readable PEM certificate file', pem: true },
  TVARR_GRPC_TLS_KEY_FILE: { schema: PemFile, expected: 'a readable PEM private key file', pem: true },
  TVARR_GRPC_TLS_CLIENT_CA_FILE: { schema: PemFile, expected: 'a readable PEM CA file', pem: true },
  TVARR_GRPC_MAX_MESSAGE_BYTES: {
    schema: Type.Integer({ minimum: 65536, maximum: 64 << 20 }),
    expected: 'bytes between 65536 and 67108864',
    fallback: String(4 << 20),
    numeric: true,
  },
  // Optional bearer token for admin writes (POST/PATCH/DELETE under /api and the page's actions).
  TVARR_ADMIN_TOKEN: { schema: Token, expected: 'a token of at least 8 characters (printable ASCII, no spaces)' },
  // HTTP edge (coordinator/http/admin-auth.ts): extra host names this coordinator answers to
  // (a reverse proxy's name; '*' turns the DNS-rebinding check off) and extra origins whose
  // pages may send writes (a UI served from another origin).
  TVARR_ALLOWED_HOSTS: { schema: Type.String({ maxLength: 4096, pattern: '^(\\*|[A-Za-z0-9.:\\[\\]-]+(\\s*,\\s*[A-Za-z0-9.:\\[\\]-]+)*)$' }), expected: "comma-separated host names, or '*'" },
  TVARR_TRUSTED_ORIGINS: { schema: Type.String({ maxLength: 4096, pattern: '^https?://[^\\s,]+(\\s*,\\s*https?://[^\\s,]+)*$' }), expected: 'comma-separated origins such as https://tv.example.com' },
  // Source inputs beyond http(s) and testpattern: (coordinator/streams/source-policy.ts).
  TVARR_SOURCE_SCHEMES: {
    schema: Type.String({ maxLength: 200, pattern: '^\\s*(file|udp|rtp|srt|rtsps?|rtmps?)(\\s*,\\s*(file|udp|rtp|srt|rtsps?|rtmps?))*\\s*$' }),
    expected: 'comma-separated schemes from file, udp, rtp, srt, rtsp, rtsps, rtmp, rtmps',
  },
  TVARR_API_MAX_BODY_BYTES: {
    schema: Type.Integer({ minimum: 1024, maximum: 64 << 20 }),
    expected: 'bytes between 1024 and 67108864',
    fallback: String(1 << 20),
    numeric: true,
  },
  TVARR_MAX_CLIENTS_PER_VARIANT: { schema: Type.Integer({ minimum: 1, maximum: 100_000 }), expected: 'an integer 1-100000', fallback: '500', numeric: true },
  TVARR_MAX_CLIENTS: { schema: Type.Integer({ minimum: 1, maximum: 1_000_000 }), expected: 'an integer 1-1000000', fallback: '2000', numeric: true },
  // Admission control (coordinator/load/viewer-admission.ts): while the event loop's average
  // lag is at least this, new MPEG-TS viewers get 503 with Retry-After and /healthz says
  // overloaded; accepted again under half of it. 0 turns it off.
  TVARR_OVERLOAD_LAG_MS: { schema: Type.Integer({ minimum: 0, maximum: 60_000 }), expected: 'milliseconds 0-60000 (0: off)', fallback: '200', numeric: true },
  TVARR_DATABASE_PATH: { schema: Type.String({ minLength: 1 }), expected: 'a file path', fallback: 'data/tvarr.db' },
  // PostgreSQL instead of the SQLite file (coordinator/db/postgres-store.ts). Carries a password: never echoed.
  TVARR_DATABASE_URL: {
    schema: Type.String({ pattern: '^postgres(ql)?://[^\\s]+$', maxLength: 4096 }),
    expected: 'a URL such as postgres://user:password@host:5432/database',
  },
  TVARR_PUBLIC_URL: { schema: Type.String({ pattern: '^https?://[^\\s]+$' }), expected: 'an http(s) URL such as http://host:8080' },
  // Cluster mode (coordinator/cluster/membership.ts): how workers reach this coordinator's
  // gRPC, this coordinator's id in the cluster, and its membership lease.
  TVARR_GRPC_PUBLIC_ADDR: {
    schema: Type.String({ pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]{1,253}):([1-9][0-9]{0,4})$' }),
    expected: 'host:port as workers dial it, such as coord-a.lan:50051 or [fd00::1]:50051',
  },
  TVARR_COORDINATOR_ID: { schema: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }), expected: '1-64 characters of A-Z a-z 0-9 . _ -' },
  TVARR_CLUSTER_LEASE_MS: { schema: Type.Integer({ minimum: 500, maximum: 60_000 }), expected: 'milliseconds 500-60000', fallback: '1500', numeric: true },
  TVARR_LOG_LEVEL: {
    schema: Type.Union(['debug', 'info', 'warn', 'error', 'silent'].map((l) => Type.Literal(l))),
    expected: 'debug, info, warn, error or silent',
    fallback: 'info',
  },
  TVARR_FFMPEG_PATH: { schema: Type.String({ minLength: 1 }), expected: 'a path to ffmpeg', fallback: 'ffmpeg' },
  TVARR_SEED_DEFAULTS: { schema: Bool, expected: 'true or false', fallback: 'false' },
  TVARR_METRICS_PER_WORKER: { schema: Bool, expected: 'true or false', fallback: 'true' },
  TVARR_LADDER_JOBS: { schema: Bool, expected: 'true or false', fallback: 'true' },
  // Liveness defaults come from common/liveness.ts; unset, the deadline is 5 heartbeats.
  TVARR_HEARTBEAT_INTERVAL_MS: { schema: Millis(50), expected: 'milliseconds >= 50', fallback: String(DEFAULT_LIVENESS.heartbeatIntervalMs), numeric: true },
  TVARR_WORKER_LOSS_DEADLINE_MS: { schema: Millis(100), expected: 'milliseconds >= 100', numeric: true },
  TVARR_JOB_START_TIMEOUT_MS: { schema: Millis(100), expected: 'milliseconds >= 100', fallback: '15000', numeric: true },
  TVARR_IDLE_GRACE_MS: { schema: Millis(0), expected: 'milliseconds >= 0', fallback: '5000', numeric: true },
  TVARR_MAX_ATTEMPTS: { schema: Type.Integer({ minimum: 1, maximum: 100 }), expected: 'an integer 1-100', fallback: '5', numeric: true },
  TVARR_RETRY_BACKOFF_MS: { schema: Millis(0), expected: 'milliseconds >= 0', fallback: '250', numeric: true },
  TVARR_RETRY_BACKOFF_MAX_MS: { schema: Millis(0), expected: 'milliseconds >= 0', fallback: '5000', numeric: true },
  TVARR_QUARANTINE_FAILURES: { schema: Type.Integer({ minimum: 1, maximum: 1000 }), expected: 'an integer 1-1000', fallback: '3', numeric: true },
  TVARR_QUARANTINE_WINDOW_MS: { schema: Millis(1000), expected: 'milliseconds >= 1000', fallback: '120000', numeric: true },
  TVARR_QUARANTINE_MS: { schema: Millis(1000), expected: 'milliseconds >= 1000', fallback: '300000', numeric: true },
  TVARR_BUFFER_BYTES: {
    schema: Type.Integer({ minimum: 65536, maximum: 1 << 30 }),
    expected: 'bytes between 65536 and 1073741824',
    fallback: String(8 << 20),
    numeric: true,
  },
  TVARR_JOB_INPUT_QUEUE_BYTES: {
    schema: Type.Integer({ minimum: 65536, maximum: 1 << 30 }),
    expected: 'bytes between 65536 and 1073741824',
    fallback: String(8 << 20),
    numeric: true,
  },
  TVARR_UPSTREAM_TIMEOUT_MS: { schema: Millis(100), expected: 'milliseconds >= 100', fallback: '10000', numeric: true },
  // Sources that fail and come back (coordinator/streams/source-upstream.ts, README "Sources
  // that change"). Viewers stay connected through an outage this long, then are closed.
  TVARR_SOURCE_OUTAGE_LIMIT_MS: { schema: Millis(0), expected: 'milliseconds >= 0', fallback: '30000', numeric: true },
  // Reconnects start at once; the interval between tries never exceeds this.
  TVARR_SOURCE_RETRY_MAX_MS: { schema: Type.Integer({ minimum: 50, maximum: 60_000 }), expected: 'milliseconds 50-60000', fallback: '500', numeric: true },
  // A connected URL that sends no bytes for this long, or no video keyframe for this long
  // (when its program has video), has failed: the next URL (a backup) is tried.
  TVARR_SOURCE_NO_DATA_MS: { schema: Millis(200), expected: 'milliseconds >= 200', fallback: '3000', numeric: true },
  TVARR_SOURCE_NO_VIDEO_MS: { schema: Millis(500), expected: 'milliseconds >= 500', fallback: '10000', numeric: true },
  // While a backup is live the primary is probed this often (one short connection), and
  // taken back once every probe has succeeded for TVARR_SOURCE_PRIMARY_HOLD_MS.
  TVARR_SOURCE_PROBE_INTERVAL_MS: { schema: Millis(200), expected: 'milliseconds >= 200', fallback: '5000', numeric: true },
  TVARR_SOURCE_PRIMARY_HOLD_MS: { schema: Millis(0), expected: 'milliseconds >= 0', fallback: '30000', numeric: true },
  // Variant watchdog (coordinator/streams/variant-watchdog.ts): no new media out of a job for
  // this long while its source sends is a stall: logged, counted and the attempt restarted.
  TVARR_STALL_TIMEOUT_MS: { schema: Millis(500), expected: 'milliseconds >= 500', fallback: '8000', numeric: true },
  // HTTP connections idle (a half-sent request, a silent keep-alive) longer than this are
  // closed. Client streams are exempt; a stream client that stops reading is cut after
  // TVARR_STALLED_CLIENT_TIMEOUT_MS instead (Bun counts seconds, 1-255).
  TVARR_HTTP_IDLE_TIMEOUT_S: { schema: Type.Integer({ minimum: 1, maximum: 255 }), expected: 'seconds 1-255', fallback: '30', numeric: true },
  TVARR_STALLED_CLIENT_TIMEOUT_MS: { schema: Millis(100), expected: 'milliseconds >= 100', fallback: '30000', numeric: true },
  // Ended job attempts older than this are deleted in the background (counters are kept).
  TVARR_JOB_HISTORY_RETENTION_HOURS: {
    schema: Type.Integer({ minimum: 1, maximum: 87_600 }),
    expected: 'hours 1-87600',
    fallback: '168',
    numeric: true,
  },
  // Bounds on what workers can make the coordinator store: registered workers (each with
  // at most 128 encoder rows), and how long an offline worker's row is kept.
  TVARR_MAX_WORKERS: { schema: Type.Integer({ minimum: 1, maximum: 100_000 }), expected: 'an integer 1-100000', fallback: '1000', numeric: true },
  TVARR_WORKER_RETENTION_MS: {
    schema: Type.Integer({ minimum: 1000, maximum: 31_536_000_000 }),
    expected: 'milliseconds between 1000 and 31536000000 (365 days)',
    fallback: String(7 * 86_400_000),
    numeric: true,
  },
} satisfies Record<string, VarSpec>;

type VarName = keyof typeof VARS;

export class ConfigError extends Error {}

function readVar(env: Record<string, string | undefined>, name: VarName): string | number | undefined {
  const spec: VarSpec = VARS[name];
  const raw = env[name] === undefined || env[name] === '' ? spec.fallback : env[name];
  if (raw === undefined) return undefined;
  const value = spec.numeric ? (/^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN) : raw;
  // Never echo the value: it may be a secret.
  if (!Value.Check(spec.schema, value)) throw new ConfigError(`${name}: invalid value, expected ${spec.expected}`);
  if ((name === 'TVARR_PUBLIC_URL' || name === 'TVARR_TRUSTED_ORIGINS' || name === 'TVARR_DATABASE_URL') && !raw.split(',').every((u) => URL.canParse(u.trim()))) throw new ConfigError(`${name}: invalid value, expected ${spec.expected}`);
  if (spec.pem && !isReadablePem(raw)) throw new ConfigError(`${name}: cannot read a PEM file at that path, expected ${spec.expected}`);
  return value;
}

function isReadablePem(path: string): boolean {
  try {
    return fs.readFileSync(path, 'utf8').includes('-----BEGIN ');
  } catch {
    return false;
  }
}

const truthy = (v: unknown) => v === 'true' || v === '1';
const list = (v: unknown): string[] => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : []);

export function parseCoordinatorConfig(env: Record<string, string | undefined>) {
  const get = (n: VarName) => readVar(env, n);
  const heartbeatIntervalMs = get('TVARR_HEARTBEAT_INTERVAL_MS') as number;
  const workerLossDeadlineMs = (get('TVARR_WORKER_LOSS_DEADLINE_MS') as number | undefined) ?? defaultLossDeadlineMs(heartbeatIntervalMs);
  if (workerLossDeadlineMs <= heartbeatIntervalMs) {
    throw new ConfigError('TVARR_WORKER_LOSS_DEADLINE_MS: invalid value, expected more than TVARR_HEARTBEAT_INTERVAL_MS');
  }
  const config = {
    httpHost: get('TVARR_HTTP_HOST') as string,
    httpPort: get('TVARR_HTTP_PORT') as number,
    grpcEnabled: truthy(get('TVARR_GRPC_ENABLED')),
    grpcHost: get('TVARR_GRPC_HOST') as string,
    grpcPort: get('TVARR_GRPC_PORT') as number,
    grpcAuthToken: get('TVARR_GRPC_AUTH_TOKEN') as string | undefined,
    databasePath: get('TVARR_DATABASE_PATH') as string,
    databaseUrl: get('TVARR_DATABASE_URL') as string | undefined,
    publicUrl: get('TVARR_PUBLIC_URL') as string | undefined,
    cluster: {
      coordinatorId: get('TVARR_COORDINATOR_ID') as string | undefined,
      grpcPublicAddr: get('TVARR_GRPC_PUBLIC_ADDR') as string | undefined,
      leaseMs: get('TVARR_CLUSTER_LEASE_MS') as number,
    },
    logLevel: get('TVARR_LOG_LEVEL') as 'debug' | 'info' | 'warn' | 'error' | 'silent',
    ffmpegPath: get('TVARR_FFMPEG_PATH') as string,
    seedDefaults: truthy(get('TVARR_SEED_DEFAULTS')),
    metricsPerWorker: truthy(get('TVARR_METRICS_PER_WORKER')),
    ladderJobs: truthy(get('TVARR_LADDER_JOBS')),
    bufferBytes: get('TVARR_BUFFER_BYTES') as number,
    jobInputQueueBytes: get('TVARR_JOB_INPUT_QUEUE_BYTES') as number,
    upstreamTimeoutMs: get('TVARR_UPSTREAM_TIMEOUT_MS') as number,
    sources: {
      outageLimitMs: get('TVARR_SOURCE_OUTAGE_LIMIT_MS') as number,
      retryMaxMs: get('TVARR_SOURCE_RETRY_MAX_MS') as number,
      noDataMs: get('TVARR_SOURCE_NO_DATA_MS') as number,
      noVideoMs: get('TVARR_SOURCE_NO_VIDEO_MS') as number,
      probeIntervalMs: get('TVARR_SOURCE_PROBE_INTERVAL_MS') as number,
      primaryHoldMs: get('TVARR_SOURCE_PRIMARY_HOLD_MS') as number,
    },
    stallTimeoutMs: get('TVARR_STALL_TIMEOUT_MS') as number,
    httpIdleTimeoutS: get('TVARR_HTTP_IDLE_TIMEOUT_S') as number,
    stalledClientTimeoutMs: get('TVARR_STALLED_CLIENT_TIMEOUT_MS') as number,
    jobHistoryRetentionMs: (get('TVARR_JOB_HISTORY_RETENTION_HOURS') as number) * 3_600_000,
    workers: {
      maxWorkers: get('TVARR_MAX_WORKERS') as number,
      retentionMs: get('TVARR_WORKER_RETENTION_MS') as number,
    },
    grpcTls: grpcTlsFrom(get('TVARR_GRPC_TLS_CERT_FILE'), get('TVARR_GRPC_TLS_KEY_FILE'), get('TVARR_GRPC_TLS_CLIENT_CA_FILE')),
    grpcMaxMessageBytes: get('TVARR_GRPC_MAX_MESSAGE_BYTES') as number,
    adminToken: get('TVARR_ADMIN_TOKEN') as string | undefined,
    apiMaxBodyBytes: get('TVARR_API_MAX_BODY_BYTES') as number,
    allowedHosts: list(get('TVARR_ALLOWED_HOSTS')).map((h) => h.toLowerCase()),
    trustedOrigins: list(get('TVARR_TRUSTED_ORIGINS')).map((o) => new URL(o).origin),
    sourceSchemes: list(get('TVARR_SOURCE_SCHEMES')).map((s) => s.toLowerCase()),
    maxClientsPerVariant: get('TVARR_MAX_CLIENTS_PER_VARIANT') as number,
    maxClients: get('TVARR_MAX_CLIENTS') as number,
    overloadLagMs: get('TVARR_OVERLOAD_LAG_MS') as number,
    liveness: {
      // heartbeat interval, loss deadline, sweep tick, gRPC keepalive time and timeout
      ...deriveLiveness(heartbeatIntervalMs, workerLossDeadlineMs),
      // Set by the operator: every worker gets it, whatever the fleet's size (heartbeatIntervalForFleet).
      heartbeatIntervalFixed: env.TVARR_HEARTBEAT_INTERVAL_MS !== undefined && env.TVARR_HEARTBEAT_INTERVAL_MS !== '',
      jobStartTimeoutMs: get('TVARR_JOB_START_TIMEOUT_MS') as number,
      idleGraceMs: get('TVARR_IDLE_GRACE_MS') as number,
      maxAttempts: get('TVARR_MAX_ATTEMPTS') as number,
      retryBackoffMs: get('TVARR_RETRY_BACKOFF_MS') as number,
      retryBackoffMaxMs: get('TVARR_RETRY_BACKOFF_MAX_MS') as number,
      quarantineFailures: get('TVARR_QUARANTINE_FAILURES') as number,
      quarantineWindowMs: get('TVARR_QUARANTINE_WINDOW_MS') as number,
      quarantineMs: get('TVARR_QUARANTINE_MS') as number,
    },
  };
  if (config.jobHistoryRetentionMs < config.liveness.quarantineWindowMs) {
    // Quarantine counts a worker's recent failed jobs: pruning them first would hide them.
    throw new ConfigError('TVARR_JOB_HISTORY_RETENTION_HOURS: invalid value, expected at least TVARR_QUARANTINE_WINDOW_MS');
  }
  return Object.freeze(config);
}

export interface GrpcTlsFiles {
  certFile: string;
  keyFile: string;
  /** Set for mutual TLS: workers must present a certificate signed by this CA. */
  clientCaFile?: string;
}

function grpcTlsFrom(cert: unknown, key: unknown, clientCa: unknown): Readonly<GrpcTlsFiles> | undefined {
  if (cert !== undefined && key === undefined) throw new ConfigError('TVARR_GRPC_TLS_KEY_FILE: missing, expected a readable PEM private key file when TVARR_GRPC_TLS_CERT_FILE is set');
  if (key !== undefined && cert === undefined) throw new ConfigError('TVARR_GRPC_TLS_CERT_FILE: missing, expected a readable PEM certificate file when TVARR_GRPC_TLS_KEY_FILE is set');
  if (clientCa !== undefined && cert === undefined) {
    throw new ConfigError('TVARR_GRPC_TLS_CLIENT_CA_FILE: invalid, mutual TLS needs TVARR_GRPC_TLS_CERT_FILE and TVARR_GRPC_TLS_KEY_FILE too');
  }
  if (cert === undefined) return undefined;
  return Object.freeze({ certFile: cert as string, keyFile: key as string, clientCaFile: clientCa as string | undefined });
}

export type CoordinatorConfig = ReturnType<typeof parseCoordinatorConfig>;
export type Liveness = CoordinatorConfig['liveness'];
export type SourceTimings = CoordinatorConfig['sources'];
