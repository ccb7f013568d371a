// The admin token when the operator set none: generated once, kept beside the database
// (mode 0600) and reused on every later start, so a fresh install is never an open admin
// API on the LAN. It is shown once on stdout by whoever started the coordinator (main.ts,
// scripts/embedded.ts), never in the JSON log.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const ADMIN_TOKEN_FILE = 'admin-token';

export interface AdminToken {
  value: string;
  /** env: TVARR_ADMIN_TOKEN; generated: created by this start; file: read from an earlier start; memory: in-memory database, not stored. */
  origin: 'env' | 'generated' | 'file' | 'memory';
  /** Where it is kept, for generated and file tokens. */
  file?: string;
}

export class AdminTokenError extends Error {}

const VALID = /^[\x21-\x7e]{8,4096}$/;

export function resolveAdminToken(configured: string | undefined, databasePath: string): AdminToken {
  if (configured !== undefined) return { value: configured, origin: 'env' };
  if (databasePath === ':memory:') return { value: newToken(), origin: 'memory' };
  const dir = dirname(databasePath);
  const file = join(dir, ADMIN_TOKEN_FILE);
  const existing = readTokenFile(file);
  if (existing !== undefined) return { value: existing, origin: 'file', file };
  mkdirSync(dir, { recursive: true });
  const value = newToken();
  try {
    // 'wx': never overwrite a token another process wrote meanwhile.
    writeFileSync(file, value + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new AdminTokenError(`cannot write the admin token file ${file}: ${(err as Error).message}`);
    const raced = readTokenFile(file);
    if (raced !== undefined) return { value: raced, origin: 'file', file };
  }
  return { value, origin: 'generated', file };
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
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
      return `  Admin token: ${token.value}\n               (generated now, kept in ${token.file}; the Transcoders page and API writes ask for it)`;
    case 'file':
      return `  Admin token: kept in ${token.file} (shown at first start only)`;
    case 'memory':
      return `  Admin token: ${token.value} (in-memory database: a new one each start)`;
    case 'env':
      return '  Admin token: TVARR_ADMIN_TOKEN';
  }
}
