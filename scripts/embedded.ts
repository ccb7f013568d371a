// The embedded default: a coordinator in this process, one worker as a child process,
// SQLite under ./data, the built-in test pattern and a 360p H.264 profile.
import { allocatorHint, withAllocatorDefaults } from '../common/allocator-env';
import { createLogger, setLogLevel } from '../common/log';
import { ConfigError, parseCoordinatorConfig } from '../coordinator/config';
import { adminTokenBanner } from '../coordinator/http/admin-token';
import { StoreOpenError } from '../coordinator/db/postgres-store';
import { startCoordinator } from '../coordinator/start-coordinator';

const env = {
  TVARR_HTTP_PORT: '8080',
  TVARR_GRPC_HOST: '127.0.0.1',
  TVARR_DATABASE_PATH: 'data/tvarr.db',
  TVARR_LOG_LEVEL: 'warn',
  ...process.env,
  TVARR_SEED_DEFAULTS: 'true',
};

let config;
try {
  config = parseCoordinatorConfig(env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`config error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
setLogLevel(config.logLevel);
const log = createLogger('coordinator');
const hint = allocatorHint();
if (hint) log.warn(hint);
let coordinator: Awaited<ReturnType<typeof startCoordinator>>;
try {
  coordinator = await startCoordinator(config, log);
} catch (err) {
  // A wrong password or an unreachable PostgreSQL: one line naming the variable, no password.
  if (err instanceof StoreOpenError) {
    console.error(`database error: ${err.message}`);
    process.exit(1);
  }
  throw err;
}

const worker = Bun.spawn([process.execPath, 'worker/main.ts'], {
  cwd: new URL('..', import.meta.url).pathname,
  env: {
    ...withAllocatorDefaults(process.env),
    TVARR_COORDINATOR_URL: `127.0.0.1:${coordinator.grpcPort}`,
    TVARR_WORKER_NAME: process.env.TVARR_WORKER_NAME ?? 'local-worker',
    TVARR_LOG_LEVEL: config.logLevel,
    ...(config.grpcAuthToken ? { TVARR_AUTH_TOKEN: config.grpcAuthToken } : {}),
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

await coordinator.ctx.events.waitFor('worker:registered');
const base = config.publicUrl ?? `http://localhost:${coordinator.httpPort}`;
console.log(`
tvarr is running.
  Play:        ffplay ${base}/stream/test-pattern/h264-360p      (or open it in VLC / mpv)
  Playlist:    ${base}/playlist.m3u
  Transcoders: ${base}/transcoders
  API docs:    ${base}/openapi
${adminTokenBanner(coordinator.adminToken)}
Press Ctrl+C to stop.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  worker.kill('SIGINT');
  await Promise.race([worker.exited, Bun.sleep(3000)]);
  worker.kill('SIGKILL');
  await coordinator.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
void worker.exited.then((code) => {
  if (!stopping) console.error(`the local worker exited with code ${code}`);
});
