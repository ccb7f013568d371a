// Counts the statements the coordinator sends to its database, reads and writes apart,
// through drizzle's logger hook (every query passes it, on both engines). Exported as
// tvarr_database_queries_total: what a fleet costs the database is visible, not guessed.
import type { Logger as DrizzleLogger } from 'drizzle-orm/logger';

export class QueryCounter implements DrizzleLogger {
  reads = 0;
  writes = 0;

  logQuery(query: string): void {
    // A statement that changes rows starts with one of these (CTEs are not used for writes).
    if (/^\s*(insert|update|delete|begin|commit)\b/i.test(query)) this.writes += 1;
    else this.reads += 1;
  }
}
