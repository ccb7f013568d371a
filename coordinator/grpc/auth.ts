// Token check for every RPC. Both sides are hashed first so the comparison is constant
// time and does not leak the token's length.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
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

/**
 * Mutual TLS binds the identity to the certificate: the x-worker-id must be the client
 * certificate's subject CN or one of its DNS / URI subject alternative names, so a
 * worker holding the shared token and its own certificate cannot pose as another.
 */
export function checkCertificateIdentity(cert: PeerCertificate | undefined, workerId: string): void {
  if (!cert) throw new AppError('unauthenticated', 'mutual TLS: this connection has no verified client certificate');
  const names = certificateNames(cert);
  if (!names.includes(workerId)) {
    const named = names.length ? names.map((n) => JSON.stringify(n.slice(0, 128))).join(', ') : 'nothing';
    throw new AppError('permission_denied', `${WORKER_ID_METADATA_KEY} ${workerId} is not named by the client certificate (its CN and DNS/URI SANs name ${named})`);
  }
}

export function certificateNames(cert: PeerCertificate): string[] {
  const cn = cert.subject?.CN as string | string[] | undefined;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) {
    const m = /^(DNS|URI):(.+)$/.exec(part.trim());
    if (m) names.push(m[2]!);
  }
  return names;
}
