// Original file: proto/transcode.proto

import type { JobStreamOpen as _tvarr_transcode_v1_JobStreamOpen, JobStreamOpen__Output as _tvarr_transcode_v1_JobStreamOpen__Output } from '../../../tvarr/transcode/v1/JobStreamOpen';
import type { JobProgress as _tvarr_transcode_v1_JobProgress, JobProgress__Output as _tvarr_transcode_v1_JobProgress__Output } from '../../../tvarr/transcode/v1/JobProgress';

export interface JobUplink {
  'open'?: (_tvarr_transcode_v1_JobStreamOpen | null);
  'output'?: (Buffer | Uint8Array | string);
  'progress'?: (_tvarr_transcode_v1_JobProgress | null);
  'msg'?: "open"|"output"|"progress";
}

export interface JobUplink__Output {
  'open'?: (_tvarr_transcode_v1_JobStreamOpen__Output | null);
  'output'?: (Buffer);
  'progress'?: (_tvarr_transcode_v1_JobProgress__Output | null);
  'msg'?: "open"|"output"|"progress";
}
