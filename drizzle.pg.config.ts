// drizzle-kit for the PostgreSQL engine: `drizzle-kit generate --config drizzle.pg.config.ts`
// (npm run gen runs both). Its own folder: the two dialects' SQL cannot be shared.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './drizzle/schema.pg.ts',
  out: './migrations-pg',
});
