// The first thing every RPC handler does: check the token, read the caller's worker id
// and, under mutual TLS, check that the client certificate names that id. On failure the
// call is answered with the mapped status and null is returned.
import type { Metadata } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { CoordinatorConfig } from '../config';
import { checkCertificateIdentity, checkToken, workerIdFrom } from './auth';
import { toGrpcStatus } from './status';

interface IncomingCall {
  metadata: Metadata;
  emit(event: 'error', status: unknown): boolean;
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate } | null;
}

export function acceptWorkerCall(call: IncomingCall, config: Pick<CoordinatorConfig, 'grpcAuthToken' | 'grpcTls'>): string | null {
  try {
    checkToken(call.metadata, config.grpcAuthToken);
    const workerId = workerIdFrom(call.metadata);
    if (config.grpcTls?.clientCaFile) checkCertificateIdentity(call.getAuthContext?.()?.sslPeerCertificate, workerId);
    return workerId;
  } catch (err) {
    call.emit('error', toGrpcStatus(err));
    return null;
  }
}
