// The gRPC endpoint workers dial. Keepalive pings find a frozen peer even when no
// heartbeat is due; the heartbeat deadline (worker-registry) covers the rest.
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadTranscodeProto } from '../../proto/load';
import { passPreframed } from '../../common/job-stream-wire';
import { deriveLiveness } from '../../common/liveness';
import type { CoreContext } from '../context';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { DrainController } from '../workers/drain-controller';
import type { WorkerRegistry } from '../workers/worker-registry';
import { acceptWorkerCall } from './accept-worker-call';
import { handleControlStream } from './control-stream';
import { handleJobStream } from './job-stream';

export interface GrpcDeps {
  ctx: CoreContext;
  registry: WorkerRegistry;
  supervisor: JobSupervisor;
  drain: DrainController;
}

export interface RunningGrpcServer {
  port: number;
  shutdown(): Promise<void>;
}

/**
 * TLS when TVARR_GRPC_TLS_CERT_FILE and TVARR_GRPC_TLS_KEY_FILE are set; mutual TLS
 * (workers must present a certificate signed by it) when TVARR_GRPC_TLS_CLIENT_CA_FILE
 * is set too. Plaintext otherwise, with one warning if a token would travel in clear.
 */
function serverCredentials(ctx: CoreContext): grpc.ServerCredentials {
  const { grpcTls, grpcAuthToken } = ctx.config;
  if (!grpcTls) {
    if (grpcAuthToken !== undefined) {
      ctx.log.warn('gRPC TLS is off (TVARR_GRPC_TLS_CERT_FILE not set): the worker token travels in clear text');
    }
    return grpc.ServerCredentials.createInsecure();
  }
  const clientCa = grpcTls.clientCaFile ? fs.readFileSync(grpcTls.clientCaFile) : null;
  const creds = grpc.ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: fs.readFileSync(grpcTls.certFile), private_key: fs.readFileSync(grpcTls.keyFile) }],
    clientCa !== null,
  );
  ctx.log.info('gRPC TLS enabled', { mutualTls: clientCa !== null });
  return creds;
}

/** The server's channel options (exported so bench/remote-worker.ts measures the real ones). */
export function grpcServerOptions(o: { heartbeatIntervalMs: number; workerLossDeadlineMs: number; maxMessageBytes: number }): grpc.ServerOptions {
  // Keepalive from common/liveness.ts: the ack allowance is the loss deadline, so a slow
  // (loaded) worker is never dropped sooner than the registry's sweep would drop it.
  const { keepaliveTimeMs, keepaliveTimeoutMs } = deriveLiveness(o.heartbeatIntervalMs, o.workerLossDeadlineMs);
  return {
    'grpc.keepalive_time_ms': keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 500,
    // A bigger frame than this is refused with RESOURCE_EXHAUSTED before it is parsed.
    'grpc.max_receive_message_length': o.maxMessageBytes,
    'grpc.max_send_message_length': o.maxMessageBytes,
    // Channelz (grpc-js's per-connection statistics) is not served here: without it a
    // message costs no timestamp and counter updates (1,000 workers send 2,000 a second).
    'grpc.enable_channelz': 0,
  };
}

/**
 * A busy worker's job output proves it alive as much as a heartbeat (common/liveness.ts):
 * a heartbeat stuck behind a loaded event loop must not lose a worker that is streaming.
 * Only authenticated calls count.
 */
function countJobStreamAsLife(deps: GrpcDeps, call: Parameters<typeof handleJobStream>[2]): void {
  // The same checks as the handler's; a refused call was answered by the handler already.
  const quiet = { metadata: call.metadata, getAuthContext: () => call.getAuthContext(), emit: () => true };
  const workerId = acceptWorkerCall(quiet, deps.ctx.config);
  if (workerId !== null) call.on('data', () => deps.registry.seen(workerId));
}

/**
 * The service with JobStream's downlink serializer taking pre-encoded source chunks
 * (common/job-stream-wire.ts: grpc-js copies them into its frame, the only copy).
 */
export function jobBytesService(): grpc.ServiceDefinition {
  const service = loadTranscodeProto().tvarr.transcode.v1.TranscodeCoordinator.service;
  const jobStream = service.JobStream;
  return { ...service, JobStream: { ...jobStream, responseSerialize: passPreframed(jobStream.responseSerialize) } };
}

export async function startGrpcServer(deps: GrpcDeps, host: string, port: number): Promise<RunningGrpcServer> {
  const { heartbeatIntervalMs, workerLossDeadlineMs } = deps.ctx.config.liveness;
  const server = new grpc.Server(grpcServerOptions({ heartbeatIntervalMs, workerLossDeadlineMs, maxMessageBytes: deps.ctx.config.grpcMaxMessageBytes }));
  const service = jobBytesService();
  server.addService(service, {
    Control: (call: Parameters<typeof handleControlStream>[1]) => handleControlStream(deps, call),
    JobStream: (call: Parameters<typeof handleJobStream>[2]) => {
      handleJobStream(deps.ctx, deps.supervisor, call);
      countJobStreamAsLife(deps, call);
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, serverCredentials(deps.ctx), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port: bound,
    shutdown: () =>
      new Promise<void>((resolve) => {
        // tryShutdown waits for open streams, which live for hours: bound it.
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
