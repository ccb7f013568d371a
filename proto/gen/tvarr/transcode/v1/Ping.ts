// Original file: proto/transcode.proto

import type { Long } from '@grpc/proto-loader';

export interface Ping {
  'nonce'?: (number | string | Long);
  'heartbeat_interval_ms'?: (number);
}

export interface Ping__Output {
  'nonce': (number);
  'heartbeat_interval_ms': (number);
}
