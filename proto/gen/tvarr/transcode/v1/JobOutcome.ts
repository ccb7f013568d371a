// Original file: proto/transcode.proto

export const JobOutcome = {
  JOB_OUTCOME_UNSPECIFIED: 'JOB_OUTCOME_UNSPECIFIED',
  JOB_OUTCOME_COMPLETED: 'JOB_OUTCOME_COMPLETED',
  JOB_OUTCOME_FAILED: 'JOB_OUTCOME_FAILED',
  JOB_OUTCOME_CANCELLED: 'JOB_OUTCOME_CANCELLED',
} as const;

export type JobOutcome =
  | 'JOB_OUTCOME_UNSPECIFIED'
  | 0
  | 'JOB_OUTCOME_COMPLETED'
  | 1
  | 'JOB_OUTCOME_FAILED'
  | 2
  | 'JOB_OUTCOME_CANCELLED'
  | 3

export type JobOutcome__Output = typeof JobOutcome[keyof typeof JobOutcome]
