// The gRPC endpoint workers dial. Keepalive pings find a frozen peer even when no
// heartbeat is due; the heartbeat deadline (worker-registry) covers the rest.
import * as grpc from '@grpc/grpc-js';
import { loadTranscodeProto } from '../../proto/load';
import type { CoreContext } from '../context';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { DrainController } from '../workers/drain-controller';
import type { WorkerRegistry } from '../workers/worker-registry';
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

export async function startGrpcServer(deps: GrpcDeps, host: string, port: number): Promise<RunningGrpcServer> {
  const { heartbeatIntervalMs, workerLossDeadlineMs } = deps.ctx.config.liveness;
  const server = new grpc.Server({
    'grpc.keepalive_time_ms': Math.max(1000, heartbeatIntervalMs),
    'grpc.keepalive_timeout_ms': Math.max(1000, Math.floor(workerLossDeadlineMs / 2)),
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 500,
    'grpc.max_receive_message_length': 4 << 20,
  });
  const proto = loadTranscodeProto();
  server.addService(proto.tvarr.transcode.v1.TranscodeCoordinator.service, {
    Control: (call: Parameters<typeof handleControlStream>[1]) => handleControlStream(deps, call),
    JobStream: (call: Parameters<typeof handleJobStream>[2]) => handleJobStream(deps.ctx, deps.supervisor, call),
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
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
