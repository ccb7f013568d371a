// Original file: proto/transcode.proto

import type { InputEnded as _tvarr_transcode_v1_InputEnded, InputEnded__Output as _tvarr_transcode_v1_InputEnded__Output } from '../../../tvarr/transcode/v1/InputEnded';
import type { Chunk as _tvarr_transcode_v1_Chunk, Chunk__Output as _tvarr_transcode_v1_Chunk__Output } from '../../../tvarr/transcode/v1/Chunk';

export interface JobDownlink {
  'input'?: (Buffer | Uint8Array | string);
  'input_ended'?: (_tvarr_transcode_v1_InputEnded | null);
  'input_chunk'?: (_tvarr_transcode_v1_Chunk | null);
  'msg'?: "input"|"input_ended"|"input_chunk";
}

export interface JobDownlink__Output {
  'input'?: (Buffer);
  'input_ended'?: (_tvarr_transcode_v1_InputEnded__Output | null);
  'input_chunk'?: (_tvarr_transcode_v1_Chunk__Output | null);
  'msg'?: "input"|"input_ended"|"input_chunk";
}
