// Builds the gRPC client for the coordinator: credentials (plaintext, TLS, or mutual
// TLS), keepalive, and the per-call metadata (token and worker id).
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AUTH_METADATA_KEY, WORKER_ID_METADATA_KEY, loadTranscodeProto } from '../../proto/load';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';
import type { WorkerConfig } from '../config';

export type CoordinatorClient = TranscodeCoordinatorClient;

export function createCredentials(config: Pick<WorkerConfig, 'tls'>): grpc.ChannelCredentials {
  const tls = config.tls;
  if (!tls) return grpc.credentials.createInsecure();
  const read = (f: string | undefined) => (f ? fs.readFileSync(f) : null);
  return grpc.credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
}

export function channelOptions(config: Pick<WorkerConfig, 'keepaliveTimeMs' | 'keepaliveTimeoutMs'>): grpc.ChannelOptions {
  // Keepalive pings detect a frozen coordinator in a few seconds (a dead TCP peer
  // otherwise looks alive for minutes). grpc-node.flow_control_window is left at
  // its default on purpose: raising it loses receive-side flow control under Bun.
  return {
    'grpc.keepalive_time_ms': config.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

export function createCoordinatorClient(config: WorkerConfig): CoordinatorClient {
  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  return new TranscodeCoordinator(config.coordinatorUrl, createCredentials(config), channelOptions(config));
}

/** Fresh metadata for one call. The token is only ever put here, never logged. */
export function callMetadata(config: Pick<WorkerConfig, 'authToken' | 'workerId'>): grpc.Metadata {
  const md = new grpc.Metadata();
  if (config.authToken) md.set(AUTH_METADATA_KEY, `Bearer ${config.authToken}`);
  md.set(WORKER_ID_METADATA_KEY, config.workerId);
  return md;
}

export function statusName(code: number): string {
  return grpc.status[code] ?? String(code);
}
