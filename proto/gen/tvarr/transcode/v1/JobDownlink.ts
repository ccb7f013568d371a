// Original file: proto/transcode.proto

import type { InputEnded as _tvarr_transcode_v1_InputEnded, InputEnded__Output as _tvarr_transcode_v1_InputEnded__Output } from '../../../tvarr/transcode/v1/InputEnded';

export interface JobDownlink {
  'input'?: (Buffer | Uint8Array | string);
  'input_ended'?: (_tvarr_transcode_v1_InputEnded | null);
  'msg'?: "input"|"input_ended";
}

export interface JobDownlink__Output {
  'input'?: (Buffer);
  'input_ended'?: (_tvarr_transcode_v1_InputEnded__Output | null);
  'msg'?: "input"|"input_ended";
}
