// A write that must not be lost while the database is away (a PostgreSQL restart, a
// network cut): retried with backoff until it lands, logged once when it starts failing
// and once when it lands again. Streams do not wait on it: the caller carries on from its
// in-memory state and the row catches up. Only for writes that are safe to repeat (each
// is fenced or idempotent: job ends, worker state, liveness touches).
import type { Logger } from '../../common/log';

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

export async function retryWrite<T>(log: Logger, what: string, write: () => Promise<T>, stopped: () => boolean = () => false): Promise<T | undefined> {
  let delay = FIRST_RETRY_MS;
  let failures = 0;
  for (;;) {
    try {
      const result = await write();
      if (failures > 0) log.info('database write landed after retries', { what, failures });
      return result;
    } catch (err) {
      failures += 1;
      if (failures === 1) log.warn('database write failed; retrying with backoff', { what, error: err instanceof Error ? err.message : String(err) });
      if (stopped()) return undefined;
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(MAX_RETRY_MS, delay * 2);
    }
  }
}
