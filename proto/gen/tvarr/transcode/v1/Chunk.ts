// Original file: proto/transcode.proto

import type { Long } from '@grpc/proto-loader';

export interface Chunk {
  'seq'?: (number | string | Long);
  'data'?: (Buffer | Uint8Array | string);
}

export interface Chunk__Output {
  'seq': (number);
  'data': (Buffer);
}
