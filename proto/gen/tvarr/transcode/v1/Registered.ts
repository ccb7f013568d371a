// Original file: proto/transcode.proto

import type { ActiveJob as _tvarr_transcode_v1_ActiveJob, ActiveJob__Output as _tvarr_transcode_v1_ActiveJob__Output } from '../../../tvarr/transcode/v1/ActiveJob';

export interface Registered {
  'worker_id'?: (string);
  'heartbeat_interval_ms'?: (number);
  'cancel_jobs'?: (_tvarr_transcode_v1_ActiveJob)[];
}

export interface Registered__Output {
  'worker_id': (string);
  'heartbeat_interval_ms': (number);
  'cancel_jobs': (_tvarr_transcode_v1_ActiveJob__Output)[];
}
