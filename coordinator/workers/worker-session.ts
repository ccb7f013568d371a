// One worker's control stream: the only way the coordinator talks to that worker.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { CoordinatorCommand } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { WorkerEvent__Output } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import type { ResourceUsage } from '../domain';
import { LinkStats } from './link-stats';

export type ControlCall = ServerDuplexStream<WorkerEvent__Output, CoordinatorCommand>;

export class WorkerSession {
  lastSeenAt: number;
  /** When the row last got this session's last_seen_at and usage (worker-registry.ts flushTouches). */
  lastTouchAt = 0;
  /** The last usage a heartbeat reported (served live; written to the row in batches). */
  usage: ResourceUsage | null = null;
  closed = false;
  /**
   * Its registration is being written (a burst of 1,000 registrations queues on the
   * database): the worker waits for Registered before it heartbeats, so the loss sweep
   * leaves it alone until then; the stream's own end still counts at once.
   */
  registering = false;
  /** Most renditions of one ladder job this worker encodes (Register.max_renditions); 0 = none. */
  maxRenditions = 0;
  /** RTT of this connection, from Ping/Pong (control-stream.ts). */
  readonly link = new LinkStats();

  constructor(
    readonly workerId: string,
    readonly name: string,
    private readonly call: ControlCall,
    now: number,
  ) {
    this.lastSeenAt = now;
  }

  send(command: CoordinatorCommand): boolean {
    if (this.closed) return false;
    try {
      this.call.write(command);
      return true;
    } catch {
      return false;
    }
  }

  /** The call ended on its own: stop using it, without touching the stream. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.stop();
  }

  /** Closes the stream from our side (heartbeat deadline, replaced by a new connection). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.link.stop();
    try {
      this.call.end();
    } catch {
      // already torn down
    }
    // Ending our half is not enough for a frozen peer: cancel the HTTP/2 stream.
    (this.call as unknown as { cancelled?: boolean; destroy?: () => void }).destroy?.();
  }
}
