// Original file: proto/transcode.proto

import type { Rendition as _tvarr_transcode_v1_Rendition, Rendition__Output as _tvarr_transcode_v1_Rendition__Output } from '../../../tvarr/transcode/v1/Rendition';
import type { Long } from '@grpc/proto-loader';

export interface TranscodeSpec {
  'encoder'?: (string);
  'width'?: (number);
  'height'?: (number);
  'video_bitrate_kbps'?: (number);
  'audio_codec'?: (string);
  'audio_bitrate_kbps'?: (number);
  'gop_frames'?: (number);
  'preset'?: (string);
  'splice_keyframe_pts'?: (number | string | Long);
  'keyframes_follow_source'?: (boolean);
  'renditions'?: (_tvarr_transcode_v1_Rendition)[];
}

export interface TranscodeSpec__Output {
  'encoder': (string);
  'width': (number);
  'height': (number);
  'video_bitrate_kbps': (number);
  'audio_codec': (string);
  'audio_bitrate_kbps': (number);
  'gop_frames': (number);
  'preset': (string);
  'splice_keyframe_pts': (number);
  'keyframes_follow_source': (boolean);
  'renditions': (_tvarr_transcode_v1_Rendition__Output)[];
}
