// Builds the gRPC client for the coordinator: credentials (plaintext, TLS, or mutual
// TLS), keepalive, and the per-call metadata (token and worker id).
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as tlsLib from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { passPreframed } from '../../common/job-stream-wire';
import { AUTH_METADATA_KEY, WORKER_ID_METADATA_KEY, loadTranscodeProto } from '../../proto/load';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';
import type { WorkerConfig } from '../config';
import type { CoordinatorTarget } from './coordinator-rotation';

export type CoordinatorClient = TranscodeCoordinatorClient;

/** The host part of host:port (IPv6 brackets removed). */
export function coordinatorHost(url: string): string {
  return url.slice(0, url.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1');
}

// SNI placeholder used when the coordinator is dialled by IP address: Bun's TLS refuses
// an IP as ServerName, so SNI carries this and the certificate is checked against the IP.
const IP_SNI_PLACEHOLDER = 'tvarr-coordinator';

/**
 * TLS when TVARR_TLS_CA_FILE (or a client cert) is set: the server certificate must chain
 * to the CA and name `serverName`, the host of the TVARR_COORDINATOR_URL entry (a DNS or
 * IP subjectAltName), also when the channel dials one of that name's resolved addresses.
 * With TVARR_TLS_CERT_FILE/KEY_FILE the worker also presents a client certificate.
 */
export function createCredentials(config: Pick<WorkerConfig, 'tls'>, serverName: string): grpc.ChannelCredentials {
  const tls = config.tls;
  if (!tls) return grpc.credentials.createInsecure();
  const read = (f: string | undefined) => (f ? fs.readFileSync(f) : null);
  return grpc.credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile), {
    // grpc-js passes the SNI override as `host` here; always verify the configured host.
    checkServerIdentity: (_host, cert) => tlsLib.checkServerIdentity(serverName, cert),
  });
}

/**
 * Options for dialling `target`. A resolved address of a name keeps the name as SNI and
 * as :authority (what the worker would send had it dialled the name itself).
 */
export function targetChannelOptions(config: Pick<WorkerConfig, 'tls'>, target: CoordinatorTarget): grpc.ChannelOptions {
  const resolved = target.address !== target.entry;
  const opts: grpc.ChannelOptions = resolved ? { 'grpc.default_authority': target.entry } : {};
  if (!config.tls) return opts;
  if (isIP(target.serverName)) return { ...opts, 'grpc.ssl_target_name_override': IP_SNI_PLACEHOLDER };
  return resolved ? { ...opts, 'grpc.ssl_target_name_override': target.serverName } : opts;
}

/**
 * A connection failure in words an operator can act on: TLS trust problems name the
 * variable to fix instead of surfacing only as UNAVAILABLE.
 */
export function explainConnectionFailure(reason: string, config: Pick<WorkerConfig, 'tls'>): string | undefined {
  if (/UNAUTHENTICATED/.test(reason)) return 'the coordinator refused the token: check TVARR_AUTH_TOKEN against its TVARR_GRPC_AUTH_TOKEN';
  if (!config.tls) {
    if (/wrong version number|WRONG_VERSION|packet length too long|ECONNRESET|Protocol error|Received RST_STREAM/i.test(reason)) {
      return 'the coordinator may require TLS: set TVARR_TLS_CA_FILE';
    }
    return undefined;
  }
  if (/self[- ]signed|unable to (get|verify)|UNABLE_TO|certificate verify failed|CERT_|unknown ca|Hostname\/IP does not match|ERR_TLS_CERT_ALTNAME/i.test(reason)) {
    return "TLS: the coordinator's certificate is not trusted (check TVARR_TLS_CA_FILE and that the certificate names the host in TVARR_COORDINATOR_URL)";
  }
  if (/certificate required|handshake failure|bad certificate|alert/i.test(reason)) {
    return 'TLS: the coordinator rejected the handshake (mutual TLS needs TVARR_TLS_CERT_FILE and TVARR_TLS_KEY_FILE signed by its client CA)';
  }
  return undefined;
}

export function channelOptions(config: Pick<WorkerConfig, 'keepaliveTimeMs' | 'keepaliveTimeoutMs'>): grpc.ChannelOptions {
  // Keepalive pings detect a frozen coordinator in a few seconds (a dead TCP peer
  // otherwise looks alive for minutes). grpc-node.flow_control_window is left at
  // its default on purpose: raising it loses receive-side flow control under Bun
  // (bench/remote-worker.ts: with a slow reader the held bytes grow at 256 KiB, 1 MiB
  // and 4 MiB). The default caps one stream at ~3.4 Mbit/s at 100 ms RTT; see the
  // "Remote workers" section of docs/BENCHMARKS.md for the measured way past it.
  return {
    'grpc.keepalive_time_ms': config.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
  };
}

export type ClientConfig = Pick<WorkerConfig, 'tls' | 'keepaliveTimeMs' | 'keepaliveTimeoutMs'>;
export interface ClientOptions {
  /**
   * A client whose channel never shares a connection with another client (its own
   * subchannel pool). Job stream lanes use one each: calls on one HTTP/2 connection share
   * its 64 KiB connection window, separate connections do not.
   */
  ownConnection?: boolean;
}
export type CreateClient = (target: CoordinatorTarget, opts?: ClientOptions) => CoordinatorClient;

/** A client for one coordinator (one address of the TVARR_COORDINATOR_URL list). */
export function createCoordinatorClient(config: ClientConfig, target: CoordinatorTarget, opts: ClientOptions = {}): CoordinatorClient {
  const TranscodeCoordinator = coordinatorClientClass();
  return new TranscodeCoordinator(target.address, createCredentials(config, target.serverName), {
    ...channelOptions(config),
    ...targetChannelOptions(config, target),
    ...(opts.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
}

let clientClass: (new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => CoordinatorClient) | undefined;

/**
 * The generated client, except that JobStream's uplink serializer takes pre-encoded
 * output (common/job-stream-wire.ts: grpc-js copies it into its frame, the only copy).
 */
function coordinatorClientClass(): NonNullable<typeof clientClass> {
  if (!clientClass) {
    const service = loadTranscodeProto().tvarr.transcode.v1.TranscodeCoordinator.service;
    const jobStream = service.JobStream;
    const methods = { ...service, JobStream: { ...jobStream, requestSerialize: passPreframed(jobStream.requestSerialize) } };
    clientClass = grpc.makeGenericClientConstructor(methods, 'TranscodeCoordinator') as unknown as NonNullable<typeof clientClass>;
  }
  return clientClass;
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
