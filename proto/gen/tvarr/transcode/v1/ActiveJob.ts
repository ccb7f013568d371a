// Original file: proto/transcode.proto


export interface ActiveJob {
  'job_id'?: (string);
  'attempt'?: (number);
}

export interface ActiveJob__Output {
  'job_id': (string);
  'attempt': (number);
}
