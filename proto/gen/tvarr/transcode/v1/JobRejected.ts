// Original file: proto/transcode.proto

import type { RejectReason as _tvarr_transcode_v1_RejectReason, RejectReason__Output as _tvarr_transcode_v1_RejectReason__Output } from '../../../tvarr/transcode/v1/RejectReason';

export interface JobRejected {
  'job_id'?: (string);
  'attempt'?: (number);
  'reason'?: (_tvarr_transcode_v1_RejectReason);
  'message'?: (string);
}

export interface JobRejected__Output {
  'job_id': (string);
  'attempt': (number);
  'reason': (_tvarr_transcode_v1_RejectReason__Output);
  'message': (string);
}
