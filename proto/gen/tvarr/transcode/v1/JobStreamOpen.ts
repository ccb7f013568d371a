// Original file: proto/transcode.proto


export interface JobStreamOpen {
  'job_id'?: (string);
  'attempt'?: (number);
  'lane'?: (number);
  'lanes'?: (number);
}

export interface JobStreamOpen__Output {
  'job_id': (string);
  'attempt': (number);
  'lane': (number);
  'lanes': (number);
}
