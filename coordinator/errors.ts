// One error type for everything the coordinator reports on purpose. Each edge (HTTP,
// gRPC) maps `code` to its own status in exactly one place.
export type AppErrorCode =
  | 'not_found'
  | 'invalid_request'
  | 'conflict'
  | 'no_capacity'
  | 'unavailable'
  | 'unauthenticated'
  | 'permission_denied'
  | 'job_failed'
  | 'invalid_spec';

const HTTP_STATUS: Record<AppErrorCode, number> = {
  not_found: 404,
  invalid_request: 400,
  conflict: 409,
  no_capacity: 503,
  unavailable: 503,
  unauthenticated: 401,
  permission_denied: 403,
  job_failed: 502,
  // A profile that breaks the transcode rules (common/transcode-rules.ts).
  invalid_spec: 422,
};

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }
}
