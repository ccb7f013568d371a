// Liveness timings, all derived here from two numbers: the heartbeat interval and the
// loss deadline. Both sides import this module, so the coordinator's sweep, its gRPC
// keepalive, the worker's heartbeat and the worker's keepalive never disagree.
//
// What "lost" means: the coordinator hears nothing from a worker (no control message,
// no job-stream message, no keepalive ack) for longer than the loss deadline. Detection
// of a frozen or partitioned worker (SIGSTOP) therefore takes at most
//   deadline + one sweep tick
// after its last message, and at most that after the freeze. A healthy worker sends a
// heartbeat every interval, and every job it runs streams output in between, so a false
// loss needs its event loop (or the coordinator's) stalled for deadline - interval.
//
// Two paths detect the freeze, and both fit in the deadline:
//   - the sweep: no message for `workerLossDeadlineMs`;
//   - the coordinator's gRPC keepalive: a ping every `keepaliveTimeMs` after the last
//     ack, and the connection is dropped when an ack is `keepaliveTimeoutMs` late, so
//     time + timeout = the deadline. A dropped connection closes every call at once.
// The worker uses the same pair to notice a frozen coordinator within the deadline.

/** Heartbeat interval when TVARR_HEARTBEAT_INTERVAL_MS is unset. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 250;
/** The loss deadline, in heartbeat intervals, when TVARR_WORKER_LOSS_DEADLINE_MS is unset. */
export const LOSS_DEADLINE_HEARTBEATS = 5;
/** The promise at default settings: a frozen worker is declared lost within this. */
export const DEFAULT_DETECTION_BOUND_MS = 1500;

export interface LivenessTimings {
  heartbeatIntervalMs: number;
  workerLossDeadlineMs: number;
  /** How often the coordinator looks for silent workers. */
  sweepIntervalMs: number;
  /** gRPC keepalive ping interval (after the previous ack), either side. */
  keepaliveTimeMs: number;
  /** gRPC keepalive ack deadline, either side; time + timeout = the loss deadline. */
  keepaliveTimeoutMs: number;
  /** Worst case from a freeze to the coordinator's "worker lost" (sweep path). */
  detectionBoundMs: number;
}

export function defaultLossDeadlineMs(heartbeatIntervalMs: number): number {
  return heartbeatIntervalMs * LOSS_DEADLINE_HEARTBEATS;
}

/** Everything else from the heartbeat interval and (optionally) the loss deadline. */
export function deriveLiveness(
  heartbeatIntervalMs: number = DEFAULT_HEARTBEAT_INTERVAL_MS,
  workerLossDeadlineMs: number = defaultLossDeadlineMs(heartbeatIntervalMs),
): LivenessTimings {
  if (!(workerLossDeadlineMs > heartbeatIntervalMs)) {
    throw new RangeError(`loss deadline (${workerLossDeadlineMs} ms) must be longer than the heartbeat interval (${heartbeatIntervalMs} ms)`);
  }
  // A twentieth of the deadline: detection overshoots it by at most 5%.
  const sweepIntervalMs = clamp(Math.floor(workerLossDeadlineMs / 20), 25, 1000);
  // Two heartbeats between pings (pings are cheap, but the acks need the peer's event
  // loop just as heartbeats do, so pinging more often buys nothing); the rest of the
  // deadline is the ack's allowance.
  const keepaliveTimeMs = clamp(2 * heartbeatIntervalMs, 100, Math.floor(workerLossDeadlineMs / 2));
  const keepaliveTimeoutMs = workerLossDeadlineMs - keepaliveTimeMs;
  return {
    heartbeatIntervalMs,
    workerLossDeadlineMs,
    sweepIntervalMs,
    keepaliveTimeMs,
    keepaliveTimeoutMs,
    detectionBoundMs: workerLossDeadlineMs + sweepIntervalMs,
  };
}

export const DEFAULT_LIVENESS: Readonly<LivenessTimings> = Object.freeze(deriveLiveness());

function clamp(v: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, v));
}
