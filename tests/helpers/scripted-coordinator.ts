// A coordinator's gRPC side that a test scripts by hand: a real grpc-js server on a
// loopback port that records every Control message and JobStream call, for tests of the
// worker's client (worker/client/). Nothing is answered unless the test writes it.
import * as grpc from '@grpc/grpc-js';
import { loadTranscodeProto } from '../../proto/load';
import type { CoordinatorCommand } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { JobDownlink } from '../../proto/gen/tvarr/transcode/v1/JobDownlink';
import type { JobUplink__Output } from '../../proto/gen/tvarr/transcode/v1/JobUplink';
import type { WorkerEvent__Output } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';

export type ControlCall = grpc.ServerDuplexStream<WorkerEvent__Output, CoordinatorCommand>;
export type JobCall = grpc.ServerDuplexStream<JobUplink__Output, JobDownlink>;

/** Items in arrival order; `next` waits (with a deadline) for the first one matching and takes it. */
export class Inbox<T> {
  readonly all: T[] = [];
  private items: T[] = [];
  private waiters: Array<() => void> = [];
  push(item: T): void {
    this.all.push(item);
    this.items.push(item);
    for (const w of this.waiters.splice(0)) w();
  }
  async next(match: (t: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.items.findIndex(match);
      if (i >= 0) return this.items.splice(i, 1)[0] as T;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
}

export interface ControlMessage {
  call: ControlCall;
  msg: WorkerEvent__Output;
  metadata: grpc.Metadata;
  /** :authority of the call (the name the worker dialled). */
  host: string;
  at: number;
}

export interface JobStreamCall {
  call: JobCall;
  open: JobUplink__Output['open'];
  /** output bytes received so far */
  bytes(): number;
  ended: Promise<void>;
}

export const isEvent = (type: keyof WorkerEvent__Output) => (e: { msg: WorkerEvent__Output }) => e.msg.event === type;

export class ScriptedCoordinator {
  readonly control = new Inbox<ControlMessage>();
  readonly jobs = new Inbox<JobStreamCall>();
  private constructor(
    readonly server: grpc.Server,
    readonly host: string,
    readonly port: number,
  ) {}

  get address(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Listens on host:port (port 0: any free one). */
  static async start(host = '127.0.0.1', port = 0, credentials = grpc.ServerCredentials.createInsecure()): Promise<ScriptedCoordinator> {
    const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
    const server = new grpc.Server();
    const bind = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((res, rej) => server.bindAsync(bind, credentials, (e, p) => (e ? rej(e) : res(p))));
    const c = new ScriptedCoordinator(server, host, bound);
    server.addService(TranscodeCoordinator.service, {
      Control: (call: ControlCall) => {
        call.on('data', (msg: WorkerEvent__Output) => c.control.push({ call, msg, metadata: call.metadata, host: call.getHost(), at: performance.now() }));
        call.on('error', () => {});
        call.on('end', () => call.end());
      },
      JobStream: (call: JobCall) => {
        let bytes = 0;
        let opened = false;
        const ended = new Promise<void>((resolve) => {
          call.on('data', (m: JobUplink__Output) => {
            if (!opened && m.open) {
              opened = true;
              c.jobs.push({ call, open: m.open, bytes: () => bytes, ended });
            } else if (m.output) bytes += m.output.length;
          });
          call.on('end', () => {
            call.end();
            resolve();
          });
          call.on('error', () => resolve());
        });
      },
    });
    return c;
  }

  /** Waits for a Register and answers Registered (with cancel_jobs if given). */
  async acceptRegister(opts: { cancelJobs?: { job_id: string; attempt: number }[]; timeoutMs?: number } = {}): Promise<ControlMessage> {
    const reg = await this.control.next(isEvent('register'), `register on ${this.address}`, opts.timeoutMs);
    reg.call.write({ registered: { worker_id: reg.msg.register!.worker_id, heartbeat_interval_ms: 200, cancel_jobs: opts.cancelJobs ?? [] } });
    return reg;
  }

  /** Hard stop: every connection cut at once, as when the process is SIGKILLed. */
  kill(): void {
    this.server.forceShutdown();
  }
}
