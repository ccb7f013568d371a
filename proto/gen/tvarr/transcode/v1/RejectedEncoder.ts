// Original file: proto/transcode.proto


export interface RejectedEncoder {
  'name'?: (string);
  'codec'?: (string);
  'reason'?: (string);
}

export interface RejectedEncoder__Output {
  'name': (string);
  'codec': (string);
  'reason': (string);
}
