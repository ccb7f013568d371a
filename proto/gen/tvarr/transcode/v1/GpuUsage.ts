// Original file: proto/transcode.proto

import type { Long } from '@grpc/proto-loader';

export interface GpuUsage {
  'index'?: (number);
  'utilization_percent'?: (number | string);
  'encoder_percent'?: (number | string);
  'memory_used_bytes'?: (number | string | Long);
  'memory_total_bytes'?: (number | string | Long);
}

export interface GpuUsage__Output {
  'index': (number);
  'utilization_percent': (number);
  'encoder_percent': (number);
  'memory_used_bytes': (number);
  'memory_total_bytes': (number);
}
