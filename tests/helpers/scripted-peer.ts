// A worker written from proto/transcode.proto alone, scripted by the test: it opens a
// Control stream, sends whatever Register it is given, and records what comes back.
import * as grpc from '@grpc/grpc-js';
import type { CoordinatorCommand__Output } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { Register } from '../../proto/gen/tvarr/transcode/v1/Register';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';
import type { WorkerEvent } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import { peerMetadata } from './security';

export interface CallEnd {
  code: grpc.status;
  codeName: string;
  details: string;
}

/** A valid registration: one CPU encoder, two jobs. Override any field. */
export function registerMessage(workerId: string, over: Partial<Register> = {}): Register {
  return {
    worker_id: workerId,
    name: workerId,
    version: 'scripted',
    hostname: 'scripted-host',
    ffmpeg_version: 'none',
    encoders: [{ name: 'libx264', codec: 'h264', kind: 'ENCODER_KIND_CPU', family: 'software' }],
    rejected_encoders: [],
    gpus: [],
    limits: { max_jobs: 2, max_gpu_jobs: 0, max_cpu_jobs: 2 },
    speed_fps: 100,
    active_jobs: [],
    draining: false,
    ...over,
  };
}

export class ScriptedPeer {
  readonly call: grpc.ClientDuplexStream<WorkerEvent, CoordinatorCommand__Output>;
  readonly commands: CoordinatorCommand__Output[] = [];
  /** Resolves with the `registered` command, or rejects with the status that ended the call first. */
  readonly registered: Promise<CoordinatorCommand__Output>;
  /** Resolves when the call ends, with its status. */
  readonly ended: Promise<CallEnd>;
  private waiters: { match: (c: CoordinatorCommand__Output) => boolean; resolve: (c: CoordinatorCommand__Output) => void }[] = [];
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(client: TranscodeCoordinatorClient, readonly workerId: string, token?: string) {
    this.call = client.Control(peerMetadata(workerId, token));
    this.ended = new Promise((resolve) => {
      this.call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, codeName: grpc.status[err.code]!, details: err.details }));
      this.call.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) resolve({ code: s.code, codeName: 'OK', details: s.details });
      });
    });
    this.ended.then(() => clearInterval(this.heartbeatTimer));
    this.registered = new Promise((resolve, reject) => {
      this.call.on('data', (cmd: CoordinatorCommand__Output) => {
        this.commands.push(cmd);
        if (cmd.command === 'registered') resolve(cmd);
        if (cmd.command === 'ping') this.send({ pong: { nonce: cmd.ping?.nonce ?? 0 } });
        for (const w of this.waiters.filter((x) => x.match(cmd))) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(cmd);
        }
      });
      void this.ended.then((s) => reject(new Error(`call ended before registered: ${s.codeName} ${s.details}`)));
    });
    this.registered.catch(() => {});
  }

  register(over: Partial<Register> = {}): this {
    this.send({ register: registerMessage(this.workerId, over) });
    return this;
  }

  send(event: WorkerEvent): boolean {
    try {
      return this.call.write(event);
    } catch {
      return false;
    }
  }

  /** Heartbeats every `ms` until the call ends, so the coordinator keeps the session alive. */
  keepAlive(ms = 200): this {
    this.heartbeatTimer = setInterval(() => this.send({ heartbeat: { jobs: [] } }), ms);
    return this;
  }

  nextCommand(match: (c: CoordinatorCommand__Output) => boolean): Promise<CoordinatorCommand__Output> {
    const seen = this.commands.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): void {
    clearInterval(this.heartbeatTimer);
    this.call.cancel();
  }
}
