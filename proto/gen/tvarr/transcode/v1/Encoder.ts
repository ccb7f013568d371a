// Original file: proto/transcode.proto

import type { EncoderKind as _tvarr_transcode_v1_EncoderKind, EncoderKind__Output as _tvarr_transcode_v1_EncoderKind__Output } from '../../../tvarr/transcode/v1/EncoderKind';

export interface Encoder {
  'name'?: (string);
  'codec'?: (string);
  'kind'?: (_tvarr_transcode_v1_EncoderKind);
  'family'?: (string);
}

export interface Encoder__Output {
  'name': (string);
  'codec': (string);
  'kind': (_tvarr_transcode_v1_EncoderKind__Output);
  'family': (string);
}
