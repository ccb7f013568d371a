// The first thing every RPC handler does: check the token and read the caller's worker
// id. On failure the call is answered with the mapped status and null is returned.
import type { Metadata } from '@grpc/grpc-js';
import { checkToken, workerIdFrom } from './auth';
import { toGrpcStatus } from './status';

interface IncomingCall {
  metadata: Metadata;
  emit(event: 'error', status: unknown): boolean;
}

export function acceptWorkerCall(call: IncomingCall, token: string | undefined): string | null {
  try {
    checkToken(call.metadata, token);
    return workerIdFrom(call.metadata);
  } catch (err) {
    call.emit('error', toGrpcStatus(err));
    return null;
  }
}
