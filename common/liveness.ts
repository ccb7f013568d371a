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
// The sweep finds the freeze: no message for `workerLossDeadlineMs`, plus two of the
// link's measured RTTs (at most LINK_RTT_ALLOWANCE_MAX_MS) for a far worker. gRPC
// keepalive backs it up (a ping every `keepaliveTimeMs` after the last ack; the
// connection is dropped when an ack is `keepaliveTimeoutMs` late, closing every call at
// once). Its ack allowance is the loss deadline plus that largest RTT allowance, so a
// loaded peer whose acks are slow is never dropped sooner than the sweep would drop it,
// near or far (a 750 ms allowance did drop healthy workers while other processes kept a
// 2-core machine at load 25, and the bare deadline dropped a lane of a worker 100 ms away
// under load). The worker uses the same pair to notice a frozen coordinator.

/** Heartbeat interval when TVARR_HEARTBEAT_INTERVAL_MS is unset. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 250;
/** The loss deadline, in heartbeat intervals, when TVARR_WORKER_LOSS_DEADLINE_MS is unset. */
export const LOSS_DEADLINE_HEARTBEATS = 5;
/** The most the loss deadline grows for a far worker (two measured RTTs, capped). */
export const LINK_RTT_ALLOWANCE_MAX_MS = 1000;
/**
 * A large fleet: with this many workers known (connected, or in the database to come back)
 * and no TVARR_HEARTBEAT_INTERVAL_MS set, new registrations are asked for heartbeats every
 * LARGE_FLEET_HEARTBEAT_INTERVAL_MS instead: half the messages (what an idle fleet costs
 * the coordinator is the cost of receiving them, ~40 µs each under Bun's grpc-js), with
 * the same loss deadline, so a frozen worker is detected exactly as fast. What it gives up:
 * the deadline then holds 2.5 heartbeats, not 5, so a worker's event loop may stall
 * 750 ms instead of 1,000 ms before a false loss (busy workers also prove themselves alive
 * with every job-stream message; an idle one that is wrongly lost just registers again).
 */
export const LARGE_FLEET_WORKERS = 200;
export const LARGE_FLEET_HEARTBEAT_INTERVAL_MS = 500;

/** The heartbeat interval to give a registering worker. */
export function heartbeatIntervalForFleet(l: Pick<LivenessTimings, 'heartbeatIntervalMs' | 'workerLossDeadlineMs'> & { heartbeatIntervalFixed?: boolean }, knownWorkers: number): number {
  if (l.heartbeatIntervalFixed || knownWorkers < LARGE_FLEET_WORKERS) return l.heartbeatIntervalMs;
  // Never fewer than 2.5 heartbeats in the deadline (a custom short deadline keeps its interval).
  return Math.max(l.heartbeatIntervalMs, Math.min(LARGE_FLEET_HEARTBEAT_INTERVAL_MS, Math.floor(l.workerLossDeadlineMs / 2.5)));
}

/** The promise at default settings: a frozen worker is declared lost within this. */
export const DEFAULT_DETECTION_BOUND_MS = 1500;

export interface LivenessTimings {
  heartbeatIntervalMs: number;
  workerLossDeadlineMs: number;
  /** How often the coordinator looks for silent workers. */
  sweepIntervalMs: number;
  /** gRPC keepalive ping interval (after the previous ack), either side. */
  keepaliveTimeMs: number;
  /** gRPC keepalive ack deadline, either side: the loss deadline + LINK_RTT_ALLOWANCE_MAX_MS. */
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
  // Two heartbeats between pings (the acks need the peer's event loop just as heartbeats
  // do, so pinging more often buys nothing), and the deadline of the farthest worker as
  // the ack's allowance.
  const keepaliveTimeMs = clamp(2 * heartbeatIntervalMs, 100, workerLossDeadlineMs);
  const keepaliveTimeoutMs = workerLossDeadlineMs + LINK_RTT_ALLOWANCE_MAX_MS;
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
