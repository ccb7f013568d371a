// A real cluster for e2e tests: a coordinator process and worker processes on loopback,
// each with its own temp SQLite file (or, with engine 'postgres', its own database on the
// test process's private PostgreSQL server) and free ports.
import { LoggedProcess, spawnBun } from './processes';
import { makeTempDir } from './media';
import { sharedPostgres } from './postgres';

export type TestEngine = 'sqlite' | 'postgres';
/** The engines store-touching e2e tests run on (issue 22: both, none skipped). */
export const TEST_ENGINES: readonly TestEngine[] = ['sqlite', 'postgres'];

export interface CoordinatorHandle {
  proc: LoggedProcess;
  httpUrl: string;
  grpcAddress: string;
  dbPath: string;
  /** The admin token this coordinator runs with (TEST_ADMIN_TOKEN unless the test set its own). */
  adminToken: string;
  /** JSON API call; sends the harness's admin token unless the test set its own token or headers.authorization. */
  api<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

/** Every test coordinator runs with a known admin token (a real start would generate one). */
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface ClusterOptions {
  env?: Record<string, string>;
  /** 'postgres': the coordinator runs on a fresh database of the shared test server (TVARR_DATABASE_URL). */
  engine?: TestEngine;
}

export class TestCluster {
  readonly temp = makeTempDir('cluster');
  coordinator!: CoordinatorHandle;
  readonly workers = new Map<string, LoggedProcess>();
  private readonly all: LoggedProcess[] = [];

  private databaseUrl: string | undefined;

  constructor(private readonly options: ClusterOptions = {}) {}

  get engine(): TestEngine {
    return this.options.engine ?? 'sqlite';
  }

  /** The PostgreSQL database of this cluster (created at the first coordinator start, kept across restarts). */
  async postgresUrl(): Promise<string> {
    this.databaseUrl ??= await (await sharedPostgres()).createDatabase();
    return this.databaseUrl;
  }

  get dbPath(): string {
    return `${this.temp.dir}/coordinator.db`;
  }

  /** Starts (or restarts, on the same database and ports) the coordinator. */
  async startCoordinator(extraEnv: Record<string, string> = {}, ports?: { http: number; grpc: number }): Promise<CoordinatorHandle> {
    // A test that sets TVARR_ADMIN_TOKEN itself (or '' to get a generated one) sends it itself.
    const ownToken = this.options.env?.TVARR_ADMIN_TOKEN ?? extraEnv.TVARR_ADMIN_TOKEN;
    const adminToken = ownToken ?? TEST_ADMIN_TOKEN;
    const auth: Record<string, string> = ownToken === undefined ? { authorization: `Bearer ${adminToken}` } : {};
    const database: Record<string, string> = this.engine === 'postgres' ? { TVARR_DATABASE_URL: await this.postgresUrl() } : {};
    const proc = spawnBun('coordinator', 'coordinator/main.ts', {
      TVARR_ADMIN_TOKEN: adminToken,
      TVARR_DATABASE_PATH: this.dbPath,
      ...database,
      TVARR_HTTP_HOST: '127.0.0.1',
      TVARR_HTTP_PORT: String(ports?.http ?? 0),
      TVARR_GRPC_HOST: '127.0.0.1',
      TVARR_GRPC_PORT: String(ports?.grpc ?? 0),
      TVARR_IDLE_GRACE_MS: '1000',
      ...this.options.env,
      ...extraEnv,
    });
    this.all.push(proc);
    const ready = await proc.waitForMsg('coordinator listening', 30_000);
    const httpUrl = `http://127.0.0.1:${ready.httpPort}`;
    this.coordinator = {
      proc,
      httpUrl,
      grpcAddress: `127.0.0.1:${ready.grpcPort}`,
      dbPath: this.dbPath,
      adminToken,
      api: async <T>(path: string, init?: RequestInit) => {
        const res = await fetch(httpUrl + path, {
          ...init,
          headers: { 'content-type': 'application/json', ...auth, ...((init?.headers as Record<string, string>) ?? {}) },
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
      },
    };
    return this.coordinator;
  }

  /**
   * Starts a worker process and waits until the coordinator has registered it: this start's
   * registration, not an earlier one of the same name (a restart after a kill). Probing
   * every encoder takes a minute or more on a loaded 2-core machine: pass a longer
   * `registerTimeoutMs` where a test restarts workers while others run.
   */
  async startWorker(name: string, env: Record<string, string> = {}, opts: { registerTimeoutMs?: number } = {}): Promise<LoggedProcess> {
    const from = this.coordinator.proc.lines.length;
    const proc = spawnBun(`worker-${name}`, 'worker/main.ts', {
      TVARR_COORDINATOR_URL: this.coordinator.grpcAddress,
      TVARR_WORKER_NAME: name,
      TVARR_WORKER_ID: `test-${name}`,
      TVARR_MAX_CPU_JOBS: '2',
      TVARR_MAX_JOBS: '2',
      TVARR_RECONNECT_BASE_MS: '100',
      TVARR_RECONNECT_MAX_MS: '1000',
      ...this.options.env,
      ...env,
    });
    this.workers.set(name, proc);
    this.all.push(proc);
    const id = env.TVARR_WORKER_ID ?? `test-${name}`;
    await this.coordinator.proc.waitForLog((l) => l.msg === 'worker registered' && l.workerId === id, opts.registerTimeoutMs ?? 60_000, from);
    return proc;
  }

  async createSource(id: string, url: string): Promise<void> {
    const res = await this.coordinator.api('/api/sources', { method: 'POST', body: JSON.stringify({ id, name: id, url }) });
    if (res.status !== 201) throw new Error(`create source: ${res.status} ${JSON.stringify(res.body)}`);
  }

  async createProfile(profile: Record<string, unknown>): Promise<void> {
    const res = await this.coordinator.api('/api/profiles', { method: 'POST', body: JSON.stringify(profile) });
    if (res.status !== 201) throw new Error(`create profile: ${res.status} ${JSON.stringify(res.body)}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.all.map((p) => p.stop()));
    this.temp.cleanup();
  }
}

/** A small test pattern and an H.264 240p profile, cheap enough for 2 cores. */
export const TINY_PATTERN_URL = 'testpattern:?size=320x240&rate=25';
export const TINY_H264_PROFILE = {
  id: 'h264-240p',
  name: 'H.264 240p',
  videoCodec: 'h264',
  width: 320,
  height: 240,
  videoBitrateKbps: 400,
  audioCodec: 'aac',
  audioBitrateKbps: 64,
  gopFrames: 25,
  preset: 'ultrafast',
};

/** A 320x180 pattern: three encoders of it are cheap enough for 2 cores (beside Chromium too). */
export const TINY_LADDER_SOURCE_URL = 'testpattern:?size=320x180&rate=25';

/** Three H.264 renditions of TINY_LADDER_SOURCE_URL, top first, their ids `${prefix}180` ... */
export function tinyRenditions<P extends string>(prefix: P) {
  return [
    { id: `${prefix}180`, width: 320, height: 180, videoBitrateKbps: 200 },
    { id: `${prefix}144`, width: 256, height: 144, videoBitrateKbps: 150 },
    { id: `${prefix}108`, width: 192, height: 108, videoBitrateKbps: 100 },
  ] as const;
}

/** One coordinator, one worker that takes three jobs, the tiny ladder source and its renditions' profiles. */
export async function startTinyLadderCluster(cluster: TestCluster, renditions: readonly { id: string; width: number; height: number; videoBitrateKbps: number }[]): Promise<void> {
  await cluster.startCoordinator();
  await cluster.startWorker('a', { TVARR_MAX_CPU_JOBS: '3', TVARR_MAX_JOBS: '3' });
  await cluster.createSource('pattern', TINY_LADDER_SOURCE_URL);
  for (const r of renditions) {
    await cluster.createProfile({ ...r, name: `H.264 ${r.height}p`, videoCodec: 'h264', audioCodec: 'aac', audioBitrateKbps: 48, gopFrames: 25, preset: 'ultrafast' });
  }
}

/** Short liveness timings so failover tests finish quickly; production defaults are longer. */
export const FAST_LIVENESS = {
  TVARR_HEARTBEAT_INTERVAL_MS: '300',
  TVARR_WORKER_LOSS_DEADLINE_MS: '1500',
  TVARR_RETRY_BACKOFF_MS: '100',
  TVARR_RETRY_BACKOFF_MAX_MS: '1000',
};

/**
 * The set-up most failover tests share: a coordinator, the named workers (each with its
 * own extra env, if any) registered, the tiny test pattern as source `pattern` and the
 * tiny H.264 profile. Fast liveness unless the options say otherwise.
 */
export async function startPatternCluster(
  workers: (string | { name: string; env: Record<string, string> })[],
  options: ClusterOptions = { env: FAST_LIVENESS },
): Promise<TestCluster> {
  const cluster = new TestCluster(options);
  await cluster.startCoordinator();
  await Promise.all(workers.map((w) => (typeof w === 'string' ? cluster.startWorker(w) : cluster.startWorker(w.name, w.env))));
  await cluster.createSource('pattern', TINY_PATTERN_URL);
  await cluster.createProfile(TINY_H264_PROFILE);
  return cluster;
}

