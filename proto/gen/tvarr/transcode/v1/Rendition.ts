// Original file: proto/transcode.proto


export interface Rendition {
  'encoder'?: (string);
  'width'?: (number);
  'height'?: (number);
  'video_bitrate_kbps'?: (number);
  'preset'?: (string);
}

export interface Rendition__Output {
  'encoder': (string);
  'width': (number);
  'height': (number);
  'video_bitrate_kbps': (number);
  'preset': (string);
}
