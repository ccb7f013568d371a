// Original file: proto/transcode.proto

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
}
