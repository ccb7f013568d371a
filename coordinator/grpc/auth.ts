// Token check for every RPC. Both sides are hashed first so the comparison is constant
// time and does not leak the token's length.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import { AUTH_METADATA_KEY, WORKER_ID_METADATA_KEY } from '../../proto/load';
import { AppError } from '../errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

export function checkToken(metadata: Metadata, expected: string | undefined): void {
  if (expected === undefined) return;
  const [value] = metadata.get(AUTH_METADATA_KEY);
  const presented = typeof value === 'string' ? value.replace(/^Bearer\s+/i, '') : '';
  if (!presented) throw new AppError('unauthenticated', 'missing auth token');
  if (!timingSafeEqual(digest(presented), digest(expected))) throw new AppError('unauthenticated', 'invalid auth token');
}

export function workerIdFrom(metadata: Metadata): string {
  const [value] = metadata.get(WORKER_ID_METADATA_KEY);
  if (typeof value !== 'string' || !/^[A-Za-z0-9._:-]{1,128}$/.test(value)) {
    throw new AppError('invalid_request', `metadata ${WORKER_ID_METADATA_KEY} must be 1-128 characters of [A-Za-z0-9._:-]`);
  }
  return value;
}
