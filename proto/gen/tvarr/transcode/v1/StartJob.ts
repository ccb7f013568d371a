// Original file: proto/transcode.proto

import type { TranscodeSpec as _tvarr_transcode_v1_TranscodeSpec, TranscodeSpec__Output as _tvarr_transcode_v1_TranscodeSpec__Output } from '../../../tvarr/transcode/v1/TranscodeSpec';

export interface StartJob {
  'job_id'?: (string);
  'attempt'?: (number);
  'spec'?: (_tvarr_transcode_v1_TranscodeSpec | null);
  'stream_lanes'?: (number);
  'job_stream_address'?: (string);
}

export interface StartJob__Output {
  'job_id': (string);
  'attempt': (number);
  'spec': (_tvarr_transcode_v1_TranscodeSpec__Output | null);
  'stream_lanes': (number);
  'job_stream_address': (string);
}
