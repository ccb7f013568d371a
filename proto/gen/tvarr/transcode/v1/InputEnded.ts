// Original file: proto/transcode.proto


export interface InputEnded {
  'reason'?: (string);
}

export interface InputEnded__Output {
  'reason': (string);
}
