// Original file: proto/transcode.proto


export interface JobStreamOpen {
  'job_id'?: (string);
  'attempt'?: (number);
}

export interface JobStreamOpen__Output {
  'job_id': (string);
  'attempt': (number);
}
