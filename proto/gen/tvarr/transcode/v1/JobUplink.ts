// Original file: proto/transcode.proto

import type { JobStreamOpen as _tvarr_transcode_v1_JobStreamOpen, JobStreamOpen__Output as _tvarr_transcode_v1_JobStreamOpen__Output } from '../../../tvarr/transcode/v1/JobStreamOpen';
import type { JobProgress as _tvarr_transcode_v1_JobProgress, JobProgress__Output as _tvarr_transcode_v1_JobProgress__Output } from '../../../tvarr/transcode/v1/JobProgress';
import type { Chunk as _tvarr_transcode_v1_Chunk, Chunk__Output as _tvarr_transcode_v1_Chunk__Output } from '../../../tvarr/transcode/v1/Chunk';

export interface JobUplink {
  'open'?: (_tvarr_transcode_v1_JobStreamOpen | null);
  'output'?: (Buffer | Uint8Array | string);
  'progress'?: (_tvarr_transcode_v1_JobProgress | null);
  'output_chunk'?: (_tvarr_transcode_v1_Chunk | null);
  'msg'?: "open"|"output"|"progress"|"output_chunk";
}

export interface JobUplink__Output {
  'open'?: (_tvarr_transcode_v1_JobStreamOpen__Output | null);
  'output'?: (Buffer);
  'progress'?: (_tvarr_transcode_v1_JobProgress__Output | null);
  'output_chunk'?: (_tvarr_transcode_v1_Chunk__Output | null);
  'msg'?: "open"|"output"|"progress"|"output_chunk";
}
