// Original file: proto/transcode.proto


export interface TranscodeSpec {
  'encoder'?: (string);
  'width'?: (number);
  'height'?: (number);
  'video_bitrate_kbps'?: (number);
  'audio_codec'?: (string);
  'audio_bitrate_kbps'?: (number);
  'gop_frames'?: (number);
  'preset'?: (string);
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
}
