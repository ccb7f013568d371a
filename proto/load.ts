// Loads the gRPC contract at run time. The `with { type: 'file' }` import keeps the
// .proto inside `bun build --compile` binaries (a path built from import.meta.dir
// points into /$bunfs and fails there).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protoPath from './transcode.proto' with { type: 'file' };
import type { ProtoGrpcType } from './gen/transcode';

// Must match the flags in scripts/gen-proto.sh so the generated types are true.
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: ProtoGrpcType | undefined;

export function loadTranscodeProto(): ProtoGrpcType {
  if (!cached) {
    const definition = protoLoader.loadSync(protoPath, LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

export const AUTH_METADATA_KEY = 'authorization';
export const WORKER_ID_METADATA_KEY = 'x-worker-id';
