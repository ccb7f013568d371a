// Original file: proto/transcode.proto

import type { Encoder as _tvarr_transcode_v1_Encoder, Encoder__Output as _tvarr_transcode_v1_Encoder__Output } from '../../../tvarr/transcode/v1/Encoder';
import type { RejectedEncoder as _tvarr_transcode_v1_RejectedEncoder, RejectedEncoder__Output as _tvarr_transcode_v1_RejectedEncoder__Output } from '../../../tvarr/transcode/v1/RejectedEncoder';
import type { Gpu as _tvarr_transcode_v1_Gpu, Gpu__Output as _tvarr_transcode_v1_Gpu__Output } from '../../../tvarr/transcode/v1/Gpu';
import type { Limits as _tvarr_transcode_v1_Limits, Limits__Output as _tvarr_transcode_v1_Limits__Output } from '../../../tvarr/transcode/v1/Limits';
import type { ActiveJob as _tvarr_transcode_v1_ActiveJob, ActiveJob__Output as _tvarr_transcode_v1_ActiveJob__Output } from '../../../tvarr/transcode/v1/ActiveJob';

export interface Register {
  'worker_id'?: (string);
  'name'?: (string);
  'version'?: (string);
  'hostname'?: (string);
  'ffmpeg_version'?: (string);
  'encoders'?: (_tvarr_transcode_v1_Encoder)[];
  'rejected_encoders'?: (_tvarr_transcode_v1_RejectedEncoder)[];
  'gpus'?: (_tvarr_transcode_v1_Gpu)[];
  'limits'?: (_tvarr_transcode_v1_Limits | null);
  'speed_fps'?: (number | string);
  'active_jobs'?: (_tvarr_transcode_v1_ActiveJob)[];
  'draining'?: (boolean);
  'max_renditions'?: (number);
}

export interface Register__Output {
  'worker_id': (string);
  'name': (string);
  'version': (string);
  'hostname': (string);
  'ffmpeg_version': (string);
  'encoders': (_tvarr_transcode_v1_Encoder__Output)[];
  'rejected_encoders': (_tvarr_transcode_v1_RejectedEncoder__Output)[];
  'gpus': (_tvarr_transcode_v1_Gpu__Output)[];
  'limits': (_tvarr_transcode_v1_Limits__Output | null);
  'speed_fps': (number);
  'active_jobs': (_tvarr_transcode_v1_ActiveJob__Output)[];
  'draining': (boolean);
  'max_renditions': (number);
}
