// Original file: proto/transcode.proto


export interface CancelJob {
  'job_id'?: (string);
  'attempt'?: (number);
  'reason'?: (string);
}

export interface CancelJob__Output {
  'job_id': (string);
  'attempt': (number);
  'reason': (string);
}
