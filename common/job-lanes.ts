// Job stream lanes: one job's byte stream striped over N gRPC calls (each on its own
// connection, each with the default HTTP/2 window) and put back in order on the other
// side. Used by the worker (output up, input down) and the coordinator (input down,
// output up); the wire design is described in proto/transcode.proto (JobStreamOpen).
//
// Pure classes: no gRPC here, so both sides and the unit tests share them.

export const MAX_JOB_STREAM_LANES = 16;

/** Default bound on bytes held out of order; a healthy sender stays far below it. */
export const DEFAULT_REORDER_LIMIT_BYTES = 32 * 1024 * 1024;

/**
 * Default bound on chunks held out of order, whatever their size: a peer sending empty
 * chunks with future sequence numbers would otherwise grow the map without bytes. A
 * healthy sender has at most its lanes' windows in flight (16 lanes x 64 KiB in chunks
 * of a few KiB at the smallest), far below this.
 */
export const DEFAULT_REORDER_LIMIT_CHUNKS = 4096;

// ---- lanes from the link: how many calls one job needs ----
//
// One call carries at most one HTTP/2 window (64 KiB, the only setting that keeps
// receive-side flow control on a Bun client) per round trip. Measured
// (bench/remote-worker.ts, 0.1% loss, BBR): 2.5-3.4 Mbit/s per lane at 100 ms, i.e.
// 0.5-0.65 of window / RTT (the low end on a loaded machine), and N lanes on N
// connections carry about N times that. The model takes the low end.
const LANE_WINDOW_BITS = 65_535 * 8;
const LANE_EFFICIENCY = 0.5;
/**
 * Capacity each job gets at least, whatever its source: room for keyframe bursts and
 * for catching up after a stall. 25 Mbit/s needs 10 lanes at 100 ms, 5 at 50 ms, 1 under
 * ~10 ms (a LAN), and is capped by MAX_JOB_STREAM_LANES far away.
 */
export const MIN_JOB_CAPACITY_KBPS = 25_000;
/** A job's source is given twice its bitrate in capacity when that is above the floor. */
export const SOURCE_HEADROOM = 2;

/** What one lane carries at this RTT, in kbit/s (measured efficiency included). */
export function laneCapacityKbps(rttMs: number): number {
  return (LANE_WINDOW_BITS * LANE_EFFICIENCY) / Math.max(rttMs, 1);
}

/** What one job can carry over a link at this RTT with the most lanes, in kbit/s. */
export function linkCapacityKbps(rttMs: number): number {
  return laneCapacityKbps(rttMs) * MAX_JOB_STREAM_LANES;
}

/**
 * Lanes for one job: enough for max(2 x source bitrate, 25 Mbit/s) at the measured RTT,
 * 1..MAX_JOB_STREAM_LANES. Unknown RTT (an older worker that does not answer Ping): 1.
 * `sourceKbps` 0 or unknown: the floor alone.
 */
export function chooseLanes(rttMs: number | null, sourceKbps = 0): number {
  if (rttMs === null || !Number.isFinite(rttMs) || rttMs <= 0) return 1;
  const needKbps = Math.max(MIN_JOB_CAPACITY_KBPS, SOURCE_HEADROOM * Math.max(0, sourceKbps || 0));
  return Math.min(MAX_JOB_STREAM_LANES, Math.max(1, Math.ceil(needKbps / laneCapacityKbps(rttMs))));
}

/** Hands out sequence numbers and the lane each one goes on (round-robin: seq % lanes). */
export class LaneStriper {
  private nextSeq = 0;

  constructor(readonly lanes: number) {
    if (!Number.isInteger(lanes) || lanes < 1) throw new RangeError(`lanes must be a positive integer, got ${lanes}`);
  }

  /** Sequence number and lane for the next chunk. */
  next(): { seq: number; lane: number } {
    const seq = this.nextSeq++;
    return { seq, lane: seq % this.lanes };
  }

  get sent(): number {
    return this.nextSeq;
  }
}

export class ReorderError extends Error {
  override name = 'ReorderError';
}

/**
 * Puts chunks back in sequence order. `push` returns the chunks that became deliverable
 * (in order, possibly none); out-of-order chunks are held up to `limitBytes` and `limitChunks`, past which
 * (or on a duplicate / already-delivered seq) it throws a ReorderError naming the gap.
 */
export class SequenceReassembler {
  private expected = 0;
  private readonly held = new Map<number, Uint8Array>();
  private heldBytes = 0;

  constructor(
    private readonly limitBytes = DEFAULT_REORDER_LIMIT_BYTES,
    private readonly limitChunks = DEFAULT_REORDER_LIMIT_CHUNKS,
  ) {}

  /** The lowest sequence number not yet delivered (the gap, while chunks are held). */
  get nextSeq(): number {
    return this.expected;
  }

  get pendingBytes(): number {
    return this.heldBytes;
  }

  get pendingChunks(): number {
    return this.held.size;
  }

  /** True when chunks are held waiting for a missing one. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  push(seq: number, data: Uint8Array): Uint8Array[] {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new ReorderError(`invalid chunk sequence number ${seq}`);
    if (seq < this.expected || this.held.has(seq)) throw new ReorderError(`chunk ${seq} received twice`);
    if (seq > this.expected) {
      if (this.heldBytes + data.byteLength > this.limitBytes) {
        throw new ReorderError(
          `reorder buffer over ${this.limitBytes} bytes: chunk ${this.expected} never arrived (${this.held.size} later chunks held)`,
        );
      }
      if (this.held.size >= this.limitChunks) {
        throw new ReorderError(`reorder buffer over ${this.limitChunks} chunks: chunk ${this.expected} never arrived (${this.heldBytes} bytes held)`);
      }
      this.held.set(seq, data);
      this.heldBytes += data.byteLength;
      return [];
    }
    const out = [data];
    this.expected++;
    for (let next = this.held.get(this.expected); next !== undefined; next = this.held.get(this.expected)) {
      this.held.delete(this.expected);
      this.heldBytes -= next.byteLength;
      out.push(next);
      this.expected++;
    }
    return out;
  }

  /** Describes the gap, for the failure reason when the stream ends with chunks held. */
  describeGap(): string {
    return `chunk ${this.expected} never arrived (${this.held.size} later chunks, ${this.heldBytes} bytes held)`;
  }
}

/** Validates one lane's open against the lanes count: null if fine, else the reason. */
export function checkLaneOpen(lane: number, lanes: number): string | null {
  if (lanes > MAX_JOB_STREAM_LANES) return `lanes ${lanes} is over the maximum of ${MAX_JOB_STREAM_LANES}`;
  const n = Math.max(1, lanes);
  if (lane >= n) return `lane ${lane} is out of range for ${n} lane(s)`;
  return null;
}

/** Capacity a link must have over a source's bitrate to be given the job (bursts, catch-up). */
export const LINK_MARGIN = 1.25;

/**
 * Can a job with this source bitrate run over a link at this RTT (with the most lanes)?
 * Unknown RTT or bitrate: yes (nothing measured says otherwise).
 */
export function linkCarries(rttMs: number | null, sourceKbps: number): boolean {
  if (rttMs === null || !(rttMs > 0) || !(sourceKbps > 0)) return true;
  return linkCapacityKbps(rttMs) >= sourceKbps * LINK_MARGIN;
}
