// Original file: proto/transcode.proto


export interface Drain {
  'reason'?: (string);
}

export interface Drain__Output {
  'reason': (string);
}
