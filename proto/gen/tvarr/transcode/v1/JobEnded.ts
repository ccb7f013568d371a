// Original file: proto/transcode.proto

import type { JobOutcome as _tvarr_transcode_v1_JobOutcome, JobOutcome__Output as _tvarr_transcode_v1_JobOutcome__Output } from '../../../tvarr/transcode/v1/JobOutcome';

export interface JobEnded {
  'job_id'?: (string);
  'attempt'?: (number);
  'outcome'?: (_tvarr_transcode_v1_JobOutcome);
  'message'?: (string);
  'exit_code'?: (number);
}

export interface JobEnded__Output {
  'job_id': (string);
  'attempt': (number);
  'outcome': (_tvarr_transcode_v1_JobOutcome__Output);
  'message': (string);
  'exit_code': (number);
}
