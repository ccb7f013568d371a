// Original file: proto/transcode.proto

import type { ResourceUsage as _tvarr_transcode_v1_ResourceUsage, ResourceUsage__Output as _tvarr_transcode_v1_ResourceUsage__Output } from '../../../tvarr/transcode/v1/ResourceUsage';
import type { JobProgress as _tvarr_transcode_v1_JobProgress, JobProgress__Output as _tvarr_transcode_v1_JobProgress__Output } from '../../../tvarr/transcode/v1/JobProgress';

export interface Heartbeat {
  'usage'?: (_tvarr_transcode_v1_ResourceUsage | null);
  'jobs'?: (_tvarr_transcode_v1_JobProgress)[];
}

export interface Heartbeat__Output {
  'usage': (_tvarr_transcode_v1_ResourceUsage__Output | null);
  'jobs': (_tvarr_transcode_v1_JobProgress__Output)[];
}
