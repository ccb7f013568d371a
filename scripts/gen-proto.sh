#!/usr/bin/env bash
# Regenerates proto/gen/ (TypeScript types for @grpc/proto-loader) from proto/*.proto.
# The loader options here must match proto/load.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf proto/gen
node_modules/.bin/proto-loader-gen-types --grpcLib=@grpc/grpc-js --longs=Number --enums=String --defaults --oneofs --keepCase -O proto/gen proto/transcode.proto
