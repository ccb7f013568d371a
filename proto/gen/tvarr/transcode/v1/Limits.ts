// Original file: proto/transcode.proto


export interface Limits {
  'max_jobs'?: (number);
  'max_gpu_jobs'?: (number);
  'max_cpu_jobs'?: (number);
}

export interface Limits__Output {
  'max_jobs': (number);
  'max_gpu_jobs': (number);
  'max_cpu_jobs': (number);
}
