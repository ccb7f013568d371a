// Original file: proto/transcode.proto


export interface DrainStarted {
  'reason'?: (string);
}

export interface DrainStarted__Output {
  'reason': (string);
}
