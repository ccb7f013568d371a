// Original file: proto/transcode.proto

import type { GpuUsage as _tvarr_transcode_v1_GpuUsage, GpuUsage__Output as _tvarr_transcode_v1_GpuUsage__Output } from '../../../tvarr/transcode/v1/GpuUsage';
import type { Long } from '@grpc/proto-loader';

export interface ResourceUsage {
  'cpu_percent'?: (number | string);
  'memory_used_bytes'?: (number | string | Long);
  'memory_total_bytes'?: (number | string | Long);
  'load1'?: (number | string);
  'gpus'?: (_tvarr_transcode_v1_GpuUsage)[];
}

export interface ResourceUsage__Output {
  'cpu_percent': (number);
  'memory_used_bytes': (number);
  'memory_total_bytes': (number);
  'load1': (number);
  'gpus': (_tvarr_transcode_v1_GpuUsage__Output)[];
}
