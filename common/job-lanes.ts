// Job stream lanes: one job's byte stream striped over N gRPC calls (each on its own
// connection, each with the default HTTP/2 window) and put back in order on the other
// side. Used by the worker (output up, input down) and the coordinator (input down,
// output up); the wire design is described in proto/transcode.proto (JobStreamOpen).
//
// Pure classes: no gRPC here, so both sides and the unit tests share them.

export const MAX_JOB_STREAM_LANES = 8;

/** Default bound on bytes held out of order; a healthy sender stays far below it. */
export const DEFAULT_REORDER_LIMIT_BYTES = 32 * 1024 * 1024;

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
 * (in order, possibly none); out-of-order chunks are held up to `limitBytes`, past which
 * (or on a duplicate / already-delivered seq) it throws a ReorderError naming the gap.
 */
export class SequenceReassembler {
  private expected = 0;
  private readonly held = new Map<number, Uint8Array>();
  private heldBytes = 0;

  constructor(private readonly limitBytes = DEFAULT_REORDER_LIMIT_BYTES) {}

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
