// The one mapping from AppError codes to gRPC status codes.
import { status, type StatusObject, Metadata } from '@grpc/grpc-js';
import { AppError, type AppErrorCode } from '../errors';

const GRPC_STATUS: Record<AppErrorCode, status> = {
  not_found: status.NOT_FOUND,
  invalid_request: status.INVALID_ARGUMENT,
  conflict: status.ALREADY_EXISTS,
  no_capacity: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  unauthenticated: status.UNAUTHENTICATED,
  permission_denied: status.PERMISSION_DENIED,
  job_failed: status.ABORTED,
  invalid_spec: status.INVALID_ARGUMENT,
};

export function toGrpcStatus(err: unknown): Partial<StatusObject> & { code: status; details: string } {
  if (err instanceof AppError) return { code: GRPC_STATUS[err.code], details: err.message, metadata: new Metadata() };
  return { code: status.INTERNAL, details: 'internal error', metadata: new Metadata() };
}
