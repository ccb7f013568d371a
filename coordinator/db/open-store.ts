// Picks the engine from the config: PostgreSQL when TVARR_DATABASE_URL is set, else the
// SQLite file at TVARR_DATABASE_PATH (the zero-setup default).
import type { CoordinatorConfig } from '../config';
import { openPostgresStore } from './postgres-store';
import { openSqliteStore } from './sqlite-store';
import type { Store } from './store';

export async function openStore(config: Pick<CoordinatorConfig, 'databasePath' | 'databaseUrl'>): Promise<Store> {
  if (config.databaseUrl) return openPostgresStore(config.databaseUrl);
  return openSqliteStore(config.databasePath);
}
