// The worker's configuration: parsed once from the environment into a frozen object.
// Nothing else in worker/ reads the environment. A bad value throws a ConfigError
// whose message is one line naming the variable and the expected form; main prints
// it and exits 1. Secret values (the token) never appear in messages or logs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DEFAULT_LIVENESS } from '../common/liveness';
import type { LogLevel } from '../common/log';
import { detectHardwareHints, type HardwareHints } from './probe/hardware-hints';
import { MAX_RENDITIONS } from './runner/transcode-spec';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const HOST_PORT = /^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$/;
/** Entries in TVARR_COORDINATOR_URL, and addresses tried per round (a name's addresses included). */
export const MAX_COORDINATORS = 16;
// A DNS name is at most 253 characters, plus ":65535".
const MAX_ENTRY_LENGTH = 259;

/** host:port as the worker dials it (a name, IPv4, or bracketed IPv6; port 1-65535), at most `maxLength` characters. */
export function isHostPort(s: string, maxLength = MAX_ENTRY_LENGTH): boolean {
  if (s.length > maxLength || !HOST_PORT.test(s)) return false;
  const port = Number(s.slice(s.lastIndexOf(':') + 1));
  return port >= 1 && port <= 65535;
}
const UINT = '^[0-9]{1,9}$';
const POSITIVE = '^0*[1-9][0-9]{0,8}$';

// Each variable: its schema (over the raw string) and the expected form for the error line.
const VARIABLES = {
  // Checked entry by entry (parseCoordinatorUrls), so a bad entry is named by its position.
  TVARR_COORDINATOR_URL: [Type.String(), 'host:port, e.g. 127.0.0.1:9090, or a comma-separated list of them'],
  TVARR_AUTH_TOKEN: [Type.String({ minLength: 1, pattern: '^[\\x21-\\x7e]+$' }), 'printable ASCII without spaces'],
  TVARR_WORKER_NAME: [Type.String({ minLength: 1, maxLength: 128 }), 'a name of 1-128 characters'],
  TVARR_WORKER_ID: [Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }), '1-128 characters of A-Z a-z 0-9 . _ -'],
  TVARR_MAX_JOBS: [Type.String({ pattern: POSITIVE }), 'a positive integer'],
  TVARR_MAX_GPU_JOBS: [Type.String({ pattern: UINT }), 'a non-negative integer (0 disables GPU jobs)'],
  TVARR_MAX_CPU_JOBS: [Type.String({ pattern: UINT }), 'a non-negative integer (0 disables CPU jobs)'],
  TVARR_FFMPEG_PATH: [Type.String({ minLength: 1 }), 'a path or command name'],
  TVARR_LOG_LEVEL: [Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')]), 'one of debug|info|warn|error'],
  TVARR_PROBE_TIMEOUT_MS: [Type.String({ pattern: POSITIVE }), 'a positive integer (milliseconds)'],
  TVARR_RECONNECT_BASE_MS: [Type.String({ pattern: POSITIVE }), 'a positive integer (milliseconds)'],
  TVARR_RECONNECT_MAX_MS: [Type.String({ pattern: POSITIVE }), 'a positive integer (milliseconds)'],
  TVARR_DRAIN_TIMEOUT_MS: [Type.String({ pattern: UINT }), 'a non-negative integer (milliseconds)'],
  TVARR_KEEPALIVE_TIME_MS: [Type.String({ pattern: POSITIVE }), 'a positive integer (milliseconds)'],
  TVARR_KEEPALIVE_TIMEOUT_MS: [Type.String({ pattern: POSITIVE }), 'a positive integer (milliseconds)'],
  TVARR_JOB_STREAM_LANES: [Type.String({ pattern: '^0*([0-9]|1[0-6])$' }), 'an integer from 0 (auto) to 16'],
  TVARR_MAX_RENDITIONS: [Type.String({ pattern: '^0*[0-8]$' }), 'an integer from 0 (no ladder jobs) to 8'],
  TVARR_TLS_CA_FILE: [Type.String({ minLength: 1 }), 'a readable PEM file'],
  TVARR_TLS_CERT_FILE: [Type.String({ minLength: 1 }), 'a readable PEM file'],
  TVARR_TLS_KEY_FILE: [Type.String({ minLength: 1 }), 'a readable PEM file'],
} satisfies Record<string, [TSchema, string]>;

export type ConfigVariable = keyof typeof VARIABLES;
const SECRET: ReadonlySet<ConfigVariable> = new Set(['TVARR_AUTH_TOKEN']);

const EnvSchema = Type.Object(
  Object.fromEntries(Object.entries(VARIABLES).map(([k, [schema]]) => [k, Type.Optional(schema)])),
);
// Every value is a string that passed its pattern; the log level is narrowed below.
type Env = Partial<Record<Exclude<ConfigVariable, 'TVARR_LOG_LEVEL'>, string>> & {
  TVARR_LOG_LEVEL?: Static<(typeof VARIABLES)['TVARR_LOG_LEVEL'][0]>;
};

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export interface WorkerConfig {
  /** Coordinator gRPC addresses (host:port), in the order given; at least one. */
  coordinatorUrls: readonly string[];
  authToken?: string;
  workerName: string;
  workerId: string;
  hostname: string;
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
  ffmpegPath: string;
  logLevel: Exclude<LogLevel, 'silent'>;
  probeTimeoutMs: number;
  reconnectBaseMs: number;
  reconnectMaxMs: number;
  drainTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** JobStream calls (each on its own connection) per job; 0 = as the coordinator suggests (StartJob.stream_lanes). */
  jobStreamLanes: number;
  /** Renditions one ladder job may have here (proto Register.max_renditions); 0 = no ladder jobs. */
  maxRenditions: number;
  /** Absent means plaintext (insecure) gRPC. */
  tls?: TlsFiles;
}

/** One row per variable, for `--help`. */
export const CONFIG_HELP: ReadonlyArray<[ConfigVariable, string, string]> = [
  ['TVARR_COORDINATOR_URL', '127.0.0.1:9090', 'coordinator gRPC address (host:port), or a comma-separated list (at most 16); a name with several addresses counts as several'],
  ['TVARR_AUTH_TOKEN', '(none)', 'token sent as "authorization: Bearer" on every call; never logged'],
  ['TVARR_WORKER_NAME', 'hostname', 'display name'],
  ['TVARR_WORKER_ID', 'sha256(hostname,name)', 'stable identity across restarts'],
  ['TVARR_MAX_JOBS', 'cpu+gpu', 'total concurrent jobs'],
  ['TVARR_MAX_GPU_JOBS', '3/NVIDIA GPU + 2/other GPU', 'concurrent jobs on GPU encoders'],
  ['TVARR_MAX_CPU_JOBS', 'max(1, cores/2)', 'concurrent jobs on CPU encoders (and copy)'],
  ['TVARR_FFMPEG_PATH', 'ffmpeg', 'FFmpeg binary'],
  ['TVARR_LOG_LEVEL', 'info', 'debug|info|warn|error'],
  ['TVARR_PROBE_TIMEOUT_MS', '20000', 'per-encoder test-encode timeout (generous: a busy host must not lose an encoder to a slow test encode)'],
  ['TVARR_RECONNECT_BASE_MS', '250', 'first reconnect delay (jittered, doubles)'],
  ['TVARR_RECONNECT_MAX_MS', '10000', 'reconnect delay cap'],
  ['TVARR_DRAIN_TIMEOUT_MS', '30000', 'after SIGTERM, kill remaining jobs after this'],
  ['TVARR_KEEPALIVE_TIME_MS', String(DEFAULT_LIVENESS.keepaliveTimeMs), 'gRPC keepalive ping interval (common/liveness.ts)'],
  ['TVARR_KEEPALIVE_TIMEOUT_MS', String(DEFAULT_LIVENESS.keepaliveTimeoutMs), 'gRPC keepalive ack deadline (the default loss deadline + 1 s for a far link)'],
  ['TVARR_JOB_STREAM_LANES', '0', 'job stream calls per job, each on its own connection (0 = as the coordinator suggests from RTT and bitrate; 1-16 fixed)'],
  ['TVARR_MAX_RENDITIONS', '8', 'most renditions of a ladder encoded in one job (one decode, one slot per rendition); 0 or 1 = no ladder jobs'],
  ['TVARR_TLS_CA_FILE', '(none)', 'CA bundle; enables TLS (system roots if only cert/key set)'],
  ['TVARR_TLS_CERT_FILE', '(none)', 'client certificate for mutual TLS (needs key)'],
  ['TVARR_TLS_KEY_FILE', '(none)', 'client private key for mutual TLS (needs cert)'],
];

function fail(name: ConfigVariable, raw: string | undefined, extra = ''): never {
  const [, expected] = VARIABLES[name];
  const got = raw === undefined || SECRET.has(name) ? '' : ` (got ${JSON.stringify(raw.slice(0, 80))})`;
  throw new ConfigError(`${name} must be ${expected}${extra}${got}`);
}

/**
 * TVARR_COORDINATOR_URL: one host:port or a comma-separated list (spaces around commas
 * allowed). Each entry is checked on its own and a bad one is named by its position; an
 * entry is echoed only when it cannot hold a secret (a `user:pass@` or `?token=` pasted
 * in by mistake is not printed).
 */
export function parseCoordinatorUrls(raw: string): readonly string[] {
  const entries = raw.split(',').map((s) => s.trim());
  const name = 'TVARR_COORDINATOR_URL';
  if (entries.length > MAX_COORDINATORS) throw new ConfigError(`${name} must list at most ${MAX_COORDINATORS} coordinators (got ${entries.length})`);
  const where = (i: number) => (entries.length > 1 ? ` (entry ${i + 1} of ${entries.length})` : '');
  const shown = (entry: string) => (/^[A-Za-z0-9.:\[\]-]*$/.test(entry) ? ` (got ${JSON.stringify(entry)})` : ' (value not shown)');
  entries.forEach((entry, i) => {
    if (entry.length > MAX_ENTRY_LENGTH || !HOST_PORT.test(entry)) {
      throw new ConfigError(`${name} must be host:port, e.g. 127.0.0.1:9090, or a comma-separated list of them${where(i)}${shown(entry.slice(0, 80))}`);
    }
    const port = Number(entry.slice(entry.lastIndexOf(':') + 1));
    if (!(port >= 1 && port <= 65535)) throw new ConfigError(`${name} must be host:port with port 1-65535${where(i)}${shown(entry)}`);
    const first = entries.indexOf(entry);
    if (first < i) throw new ConfigError(`${name} lists ${JSON.stringify(entry)} twice (entries ${first + 1} and ${i + 1})`);
  });
  return Object.freeze(entries);
}

/** A restarted worker with the same host and name must register as the same identity. */
export function deriveWorkerId(hostname: string, name: string): string {
  return 'w-' + createHash('sha256').update(`${hostname}\0${name}`).digest('hex').slice(0, 16);
}

/**
 * Default limits (why): a software x264 encode uses several cores, so half the cores
 * keeps a CPU-only worker from oversubscribing (at least 1). NVENC on consumer cards
 * was capped at 3 concurrent sessions for years, so 3 per NVIDIA GPU is safe on any
 * card; Intel/AMD media engines share the GPU with other work, so 2 each. Total is
 * the sum so each class can fill its own slots.
 */
export function defaultLimits(hw: HardwareHints): { maxJobs: number; maxGpuJobs: number; maxCpuJobs: number } {
  const maxCpuJobs = Math.max(1, Math.floor(hw.cpuCount / 2));
  const maxGpuJobs = hw.nvidiaGpuCount * 3 + hw.otherGpuCount * 2;
  return { maxJobs: maxCpuJobs + maxGpuJobs, maxGpuJobs, maxCpuJobs };
}

function checkReadable(name: ConfigVariable, file: string | undefined): void {
  if (file === undefined) return;
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch {
    fail(name, file, ', which is not readable');
  }
}

export function parseWorkerConfig(
  env: Record<string, string | undefined>,
  hw: HardwareHints = detectHardwareHints(),
): Readonly<WorkerConfig> {
  // Empty strings count as unset, as in most shells' `VAR= cmd`.
  const picked: Record<string, string> = {};
  for (const name of Object.keys(VARIABLES)) {
    const v = env[name];
    if (v !== undefined && v !== '') picked[name] = v;
  }
  const first = Value.Errors(EnvSchema, picked).First();
  if (first) {
    const name = first.path.split('/')[1] as ConfigVariable;
    fail(name, picked[name]);
  }
  const e: Env = picked;
  const int = (v: string | undefined, dflt: number) => (v === undefined ? dflt : Number.parseInt(v, 10));

  const coordinatorUrls = parseCoordinatorUrls(e.TVARR_COORDINATOR_URL ?? '127.0.0.1:9090');

  const dflt = defaultLimits(hw);
  const maxCpuJobs = int(e.TVARR_MAX_CPU_JOBS, dflt.maxCpuJobs);
  const maxGpuJobs = int(e.TVARR_MAX_GPU_JOBS, dflt.maxGpuJobs);
  const maxJobs = int(e.TVARR_MAX_JOBS, Math.max(1, maxCpuJobs + maxGpuJobs));

  const reconnectBaseMs = int(e.TVARR_RECONNECT_BASE_MS, 250);
  const reconnectMaxMs = int(e.TVARR_RECONNECT_MAX_MS, 10_000);
  if (reconnectMaxMs < reconnectBaseMs) fail('TVARR_RECONNECT_MAX_MS', e.TVARR_RECONNECT_MAX_MS, ` >= TVARR_RECONNECT_BASE_MS (${reconnectBaseMs})`);

  const { TVARR_TLS_CA_FILE: caFile, TVARR_TLS_CERT_FILE: certFile, TVARR_TLS_KEY_FILE: keyFile } = e;
  if (certFile && !keyFile) fail('TVARR_TLS_KEY_FILE', undefined, ' when TVARR_TLS_CERT_FILE is set');
  if (keyFile && !certFile) fail('TVARR_TLS_CERT_FILE', undefined, ' when TVARR_TLS_KEY_FILE is set');
  checkReadable('TVARR_TLS_CA_FILE', caFile);
  checkReadable('TVARR_TLS_CERT_FILE', certFile);
  checkReadable('TVARR_TLS_KEY_FILE', keyFile);
  const tls = caFile || certFile ? Object.freeze({ caFile, certFile, keyFile }) : undefined;

  const workerName = e.TVARR_WORKER_NAME ?? hw.hostname;
  const config: WorkerConfig = {
    coordinatorUrls,
    authToken: e.TVARR_AUTH_TOKEN,
    workerName,
    workerId: e.TVARR_WORKER_ID ?? deriveWorkerId(hw.hostname, workerName),
    hostname: hw.hostname,
    maxJobs,
    maxGpuJobs,
    maxCpuJobs,
    ffmpegPath: e.TVARR_FFMPEG_PATH ?? 'ffmpeg',
    logLevel: e.TVARR_LOG_LEVEL ?? 'info',
    probeTimeoutMs: int(e.TVARR_PROBE_TIMEOUT_MS, 20000),
    reconnectBaseMs,
    reconnectMaxMs,
    drainTimeoutMs: int(e.TVARR_DRAIN_TIMEOUT_MS, 30_000),
    // A frozen coordinator is noticed within the coordinator's own default loss deadline.
    keepaliveTimeMs: int(e.TVARR_KEEPALIVE_TIME_MS, DEFAULT_LIVENESS.keepaliveTimeMs),
    keepaliveTimeoutMs: int(e.TVARR_KEEPALIVE_TIMEOUT_MS, DEFAULT_LIVENESS.keepaliveTimeoutMs),
    jobStreamLanes: int(e.TVARR_JOB_STREAM_LANES, 0),
    maxRenditions: int(e.TVARR_MAX_RENDITIONS, MAX_RENDITIONS),
    tls,
  };
  return Object.freeze(config);
}

/** Config for logging: everything except the token. */
export function redactConfig(config: WorkerConfig): Record<string, unknown> {
  const { authToken, ...rest } = config;
  return { ...rest, authToken: authToken ? '(set)' : '(none)' };
}
