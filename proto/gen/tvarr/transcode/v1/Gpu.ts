// Original file: proto/transcode.proto

import type { Long } from '@grpc/proto-loader';

export interface Gpu {
  'vendor'?: (string);
  'name'?: (string);
  'device'?: (string);
  'memory_bytes'?: (number | string | Long);
}

export interface Gpu__Output {
  'vendor': (string);
  'name': (string);
  'device': (string);
  'memory_bytes': (number);
}
