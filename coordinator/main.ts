// Wiring only: config, database, gRPC and HTTP servers, shutdown.
import { allocatorHint } from '../common/allocator-env';
import { createLogger, setLogLevel } from '../common/log';
import { ConfigError, parseCoordinatorConfig } from './config';
import { adminTokenBanner } from './http/admin-token';
import { StoreOpenError } from './db/postgres-store';
import { startCoordinator } from './start-coordinator';

let config;
try {
  config = parseCoordinatorConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`config error: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
setLogLevel(config.logLevel);
const log = createLogger('coordinator');
const hint = allocatorHint();
if (hint) log.warn(hint);
let coordinator;
try {
  coordinator = await startCoordinator(config, log);
} catch (err) {
  // A wrong password or an unreachable server: one line naming the variable, no password.
  if (err instanceof StoreOpenError) {
    process.stderr.write(`database error: ${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
// The generated admin token goes to stdout once, beside the address: never to the JSON log (stderr).
if (coordinator.adminToken.origin !== 'env') {
  process.stdout.write(`tvarr coordinator on http://localhost:${coordinator.httpPort}\n${adminTokenBanner(coordinator.adminToken)}\n`);
}

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info('shutting down', { signal });
  await coordinator.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
