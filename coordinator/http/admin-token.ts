// The admin token when the operator set none: generated once and kept in the database as
// its SHA-256 digest (settings 'admin_token_sha256'), so every coordinator on that
// database accepts the same token and the database never holds the secret itself. It is
// shown once on stdout by whoever generated it (main.ts, scripts/embedded.ts), never in
// the JSON log. With SQLite it is also kept beside the database (mode 0600), where the
// operator can read it again; a file from an older version is adopted at the next start.
// Lost the token on PostgreSQL? Set TVARR_ADMIN_TOKEN, or delete that settings row and
// restart one coordinator to generate a new one.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { eq } from 'drizzle-orm';
import type { Store } from '../db/store';

export const ADMIN_TOKEN_FILE = 'admin-token';
export const ADMIN_TOKEN_SETTING = 'admin_token_sha256';

export interface AdminToken {
  /** What requests are checked against: the token (env) or its digest. */
  expected: string | Buffer;
  /** The token itself, when this process knows it (env, generated now, or read from the file). */
  value?: string;
  /** env: TVARR_ADMIN_TOKEN; generated: created by this start; file: kept beside the SQLite file; database: generated earlier, kept as a digest; memory: in-memory database. */
  origin: 'env' | 'generated' | 'file' | 'database' | 'memory';
  /** Where it is kept, for generated and file tokens on SQLite. */
  file?: string;
}

export class AdminTokenError extends Error {}

const VALID = /^[\x21-\x7e]{8,4096}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest();

export async function resolveAdminToken(configured: string | undefined, store: Store, databasePath: string): Promise<AdminToken> {
  if (configured !== undefined) return { expected: configured, value: configured, origin: 'env' };
  if (store.engine === 'sqlite' && databasePath === ':memory:') {
    const value = newToken();
    return { expected: value, value, origin: 'memory' };
  }
  const file = store.engine === 'sqlite' ? join(dirname(databasePath), ADMIN_TOKEN_FILE) : undefined;
  const stored = await readDigest(store);
  const fromFile = file ? readTokenFile(file) : undefined;
  if (stored) {
    if (fromFile !== undefined && sha256(fromFile).toString('hex') === stored) return { expected: Buffer.from(stored, 'hex'), value: fromFile, origin: 'file', file };
    return { expected: Buffer.from(stored, 'hex'), origin: 'database', file: fromFile !== undefined ? file : undefined };
  }
  // None stored yet: adopt an older version's file, or generate one. Several coordinators
  // starting at once on one empty database: the first insert wins and the others use it.
  const value = fromFile ?? newToken();
  const won = await insertDigest(store, sha256(value).toString('hex'));
  const digest = Buffer.from((await readDigest(store))!, 'hex');
  if (!won) return { expected: digest, origin: 'database' };
  if (fromFile !== undefined) return { expected: digest, value, origin: 'file', file };
  if (file) writeTokenFile(file, value);
  return { expected: digest, value, origin: 'generated', file };
}

async function readDigest({ db, t }: Store): Promise<string | undefined> {
  const [row] = await db.select({ value: t.settings.value }).from(t.settings).where(eq(t.settings.key, ADMIN_TOKEN_SETTING)).limit(1);
  return row?.value;
}

async function insertDigest({ db, t }: Store, hex: string): Promise<boolean> {
  const res = await db
    .insert(t.settings)
    .values({ key: ADMIN_TOKEN_SETTING, value: hex, updatedAt: Date.now() })
    .onConflictDoNothing()
    .returning({ key: t.settings.key });
  return res.length > 0;
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function writeTokenFile(file: string, value: string): void {
  mkdirSync(dirname(file), { recursive: true });
  try {
    // 'wx': never overwrite a token another process wrote meanwhile.
    writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AdminTokenError(`cannot write the admin token file ${file}: ${(err as Error).message}`);
  }
}

function readTokenFile(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AdminTokenError(`cannot read the admin token file ${file}: ${(err as Error).message}`);
  }
  const value = text.trim();
  // Never echo the content: it is the secret.
  if (!VALID.test(value)) throw new AdminTokenError(`the admin token file ${file} is malformed: delete it to generate a new token, or set TVARR_ADMIN_TOKEN`);
  // Someone loosened its mode: tighten it again rather than leave it readable.
  if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  return value;
}

/** The lines to print on stdout beside the URLs (stdout, never the JSON log). */
export function adminTokenBanner(token: AdminToken): string {
  switch (token.origin) {
    case 'generated':
      return token.file
        ? `  Admin token: ${token.value}\n               (generated now, kept in ${token.file}; the Transcoders page and API writes ask for it)`
        : `  Admin token: ${token.value}\n               (generated now and shown only this once; the database keeps only its digest)`;
    case 'file':
      return `  Admin token: kept in ${token.file} (shown at first start only)`;
    case 'database':
      return '  Admin token: generated at an earlier start (the database keeps its digest); set TVARR_ADMIN_TOKEN to choose one';
    case 'memory':
      return `  Admin token: ${token.value} (in-memory database: a new one each start)`;
    case 'env':
      return '  Admin token: TVARR_ADMIN_TOKEN';
  }
}
