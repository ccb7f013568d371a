// Original file: proto/transcode.proto

import type { Long } from '@grpc/proto-loader';

export interface JobProgress {
  'job_id'?: (string);
  'attempt'?: (number);
  'fps'?: (number | string);
  'speed'?: (number | string);
  'bitrate_kbps'?: (number | string);
  'frames'?: (number | string | Long);
  'bytes_in'?: (number | string | Long);
  'bytes_out'?: (number | string | Long);
  'out_time_us'?: (number | string | Long);
}

export interface JobProgress__Output {
  'job_id': (string);
  'attempt': (number);
  'fps': (number);
  'speed': (number);
  'bitrate_kbps': (number);
  'frames': (number);
  'bytes_in': (number);
  'bytes_out': (number);
  'out_time_us': (number);
}
