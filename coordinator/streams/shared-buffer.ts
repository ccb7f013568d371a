// Per-variant shared buffer: one transcode's output fanned out to many HTTP clients.
//
// Flow: producer bytes -> SegmentIngest (align, gate, rewrite counters, index
// keyframes) -> BufferHistory (bounded window of shared chunks) -> one pull-based
// ReadableStream per client. Readers pull at their own pace, so a slow client only
// slows itself; one that falls out of the window is moved to the newest entry point
// instead of holding memory. Waiting readers share one promise that each write
// resolves, so hundreds of idle readers cost nothing per write beyond a wake-up.
import { createLogger } from '../../common/log.ts';
import { BufferHistory, type EntryPoint } from './shared-buffer-history.ts';
import { SegmentIngest } from './shared-buffer-ingest.ts';

const log = createLogger('shared-buffer');

export interface SharedBufferOptions {
  /** Retained history in bytes (e.g. 8 MiB); should exceed a GOP so joins are instant. */
  maxBufferedBytes: number;
  /**
   * A reader that has not asked for bytes while its unread backlog stayed past the
   * retained window for this long is disconnected (its stream errors), so a client that
   * stops reading cannot keep the variant and its worker busy forever. Off when unset.
   */
  stalledReaderTimeoutMs?: number;
  /** Time source for the stall rule (tests pass their own). */
  now?: () => number;
}

export interface SharedBufferStats {
  bytesIn: number;
  bytesOut: number;
  readers: number;
  keyframes: number;
  segment: number;
  slowReaderSkips: number;
  /** Readers disconnected because they stopped reading (see stalledReaderTimeoutMs). */
  stalledReaderDisconnects: number;
  bufferedBytes: number;
  /** Producer bytes discarded: before an entry point after a (re)start, or unsyncable garbage. */
  droppedBytes: number;
  /** Splices where the new producer carried another program (codec, PIDs, stream types). */
  programChanges: number;
}

interface ReaderState {
  /** Absolute offset of the next byte to send; -1 while waiting for an entry point. */
  pos: number;
  /** PAT + PMT still to be sent before `pos` (set when the reader lands on an entry point). */
  prefix: Uint8Array | null;
  /** While waiting (pos -1): the first entry point at or after this offset is taken. */
  waitFrom: number;
  detached: boolean;
  /** Inside pull(), waiting for new bytes: caught up, so never stalled. */
  waiting: boolean;
  /** When it was first seen behind the window without reading; null while it keeps up. */
  behindSince: number | null;
  controller: ReadableStreamDefaultController<Uint8Array> | null;
}

// The stall rule runs on writes, at most this often: a cheap walk over the readers.
const STALL_CHECK_INTERVAL_MS = 250;

export class SharedBuffer {
  private readonly history = new BufferHistory();
  private readonly ingest = new SegmentIngest(this.history);
  private readonly readers = new Set<ReaderState>();
  private readonly listeners = new Set<(count: number) => void>();
  private wake: { promise: Promise<void>; resolve: () => void } | null = null;
  private ended = false;
  private bytesIn = 0;
  private bytesOut = 0;
  private slowReaderSkips = 0;
  private stalledReaderDisconnects = 0;
  private lastStallCheck = 0;
  private readonly now: () => number;

  constructor(private readonly options: SharedBufferOptions) {
    if (!(options.maxBufferedBytes > 0)) throw new RangeError('maxBufferedBytes must be positive');
    this.now = options.now ?? Date.now;
  }

  /** Current producer number: 0 for the first, +1 per beginSegment(). */
  get segment(): number {
    return this.ingest.segment;
  }

  /**
   * Splices where the new producer's program differed from the output's (codec, PIDs,
   * stream types): there the PMT got a new version and each elementary PID a
   * discontinuity_indicator packet before its first new packet.
   */
  get programChanges(): number {
    return this.ingest.programChanges;
  }

  get readerCount(): number {
    return this.readers.size;
  }

  /**
   * Bytes from the current producer, in any alignment. Ignored after end(). The buffer
   * copies what it keeps, so the caller may reuse `chunk`; with `{ handOver: true }` the
   * caller gives the bytes up instead (never reads or reuses them again), and the buffer
   * keeps them without a copy and rewrites their continuity counters in place.
   */
  write(chunk: Uint8Array, options?: { handOver?: boolean }): void {
    if (this.ended) return;
    this.bytesIn += chunk.length;
    if (this.ingest.write(chunk, options?.handOver === true) === 0) return;
    this.history.trim(this.options.maxBufferedBytes);
    this.disconnectStalledReaders();
    this.notify();
  }

  /**
   * A new producer (failover attempt) starts; its output joins at its first clean entry
   * point (PAT, PMT, keyframe). `anyFrame`: it joins with its first bytes instead, which
   * the caller has already cut at a frame that follows what the clients got from a
   * producer with the same frame structure (splice-point.ts, frame mode).
   */
  beginSegment(anyFrame = false): void {
    this.ingest.begin(anyFrame);
  }

  /** Clean end of stream: readers drain what remains, then their streams close. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ingest.flush() > 0) this.history.trim(this.options.maxBufferedBytes);
    this.notify();
  }

  createReader(): ReadableStream<Uint8Array> {
    const reader: ReaderState = {
      pos: -1,
      prefix: null,
      waitFrom: this.history.endOffset,
      detached: false,
      waiting: false,
      behindSince: null,
      controller: null,
    };
    // The join point is fixed now, not at the first pull, so a client that is slow to
    // start reading still begins where it joined (if that is still retained); with no
    // entry point yet it will take the first one that arrives, not whatever is newest
    // by the time it reads.
    this.attach(reader, this.history.latestEntry());
    this.readers.add(reader);
    this.emitReaders();
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          reader.controller = controller;
        },
        pull: (controller) => this.pull(reader, controller),
        cancel: () => this.detach(reader),
      },
      // highWaterMark 0: nothing is read ahead into the stream's queue, so a client
      // that stops reading holds only its offset (backpressure stays per reader).
      { highWaterMark: 0 },
    );
  }

  onReadersChanged(listener: (count: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): SharedBufferStats {
    return {
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      readers: this.readers.size,
      keyframes: this.ingest.keyframes,
      segment: this.ingest.segment,
      slowReaderSkips: this.slowReaderSkips,
      stalledReaderDisconnects: this.stalledReaderDisconnects,
      bufferedBytes: this.history.bufferedBytes,
      droppedBytes: this.ingest.droppedBytes,
      programChanges: this.ingest.programChanges,
    };
  }

  /** Resolves once a clean entry point exists; rejects if the stream ends without one. */
  async waitForKeyframe(): Promise<void> {
    while (!this.history.latestEntry()) {
      if (this.ended) throw new Error('stream ended before any keyframe');
      await this.changed();
    }
  }

  private async pull(reader: ReaderState, controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    reader.behindSince = null;
    for (;;) {
      if (reader.detached) return;
      const chunk = this.nextChunk(reader);
      if (chunk) {
        this.bytesOut += chunk.length;
        controller.enqueue(chunk);
        return;
      }
      if (this.ended) {
        this.detach(reader);
        controller.close();
        return;
      }
      reader.waiting = true;
      await this.changed();
      reader.waiting = false;
    }
  }

  /**
   * A reader that is not waiting in pull() and whose next byte has already been trimmed
   * has an unread backlog larger than the window; once that lasts stalledReaderTimeoutMs
   * it is disconnected. A slow reader that still reads is only skipped forward (pull()
   * clears the mark); one that has stopped reading would otherwise count as a client for ever.
   */
  private disconnectStalledReaders(): void {
    const timeoutMs = this.options.stalledReaderTimeoutMs;
    if (timeoutMs === undefined || this.readers.size === 0) return;
    const now = this.now();
    if (now - this.lastStallCheck < STALL_CHECK_INTERVAL_MS) return;
    this.lastStallCheck = now;
    const windowStart = this.history.startOffset;
    for (const reader of [...this.readers]) {
      const next = reader.pos >= 0 ? reader.pos : reader.waitFrom;
      if (reader.waiting || next >= windowStart) {
        reader.behindSince = null;
        continue;
      }
      reader.behindSince ??= now;
      if (now - reader.behindSince < timeoutMs) continue;
      this.stalledReaderDisconnects++;
      log.info('stalled reader disconnected', { behindBytes: this.history.endOffset - next, stalledMs: now - reader.behindSince });
      this.detach(reader);
      try {
        reader.controller?.error(new Error(`client stopped reading for ${timeoutMs} ms`));
      } catch {
        // already closed
      }
    }
  }

  /** Next bytes for a reader, moving it to an entry point when it has none or fell behind. */
  private nextChunk(reader: ReaderState): Uint8Array | null {
    if (reader.pos >= 0 && reader.pos < this.history.startOffset) {
      // Overtaken by trimming: jumping forward keeps memory bounded (the client sees
      // one glitch) instead of retaining history for the slowest client.
      this.slowReaderSkips++;
      reader.pos = -1;
      reader.prefix = null;
      if (!this.attach(reader, this.history.latestEntry())) reader.waitFrom = this.history.endOffset;
    }
    if (reader.pos < 0 && !this.attach(reader, this.history.entryFrom(reader.waitFrom))) return null;
    if (reader.prefix) {
      const prefix = reader.prefix;
      reader.prefix = null;
      return prefix;
    }
    const data = this.history.read(reader.pos);
    if (data) reader.pos += data.length;
    return data;
  }

  /** Places a reader on an entry point; false if there is none to take. */
  private attach(reader: ReaderState, entry: EntryPoint | null): boolean {
    if (!entry) return false;
    reader.pos = entry.offset;
    reader.prefix = entry.prefix;
    return true;
  }

  private detach(reader: ReaderState): void {
    if (reader.detached) return;
    reader.detached = true;
    this.readers.delete(reader);
    this.emitReaders();
  }

  private emitReaders(): void {
    const count = this.readers.size;
    for (const listener of this.listeners) {
      try {
        listener(count);
      } catch (err) {
        log.error('readers-changed listener threw', { err });
      }
    }
  }

  /** One shared promise per "something changed"; each write or end() resolves it. */
  private changed(): Promise<void> {
    if (!this.wake) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.wake = { promise, resolve };
    }
    return this.wake.promise;
  }

  private notify(): void {
    const wake = this.wake;
    if (!wake) return;
    this.wake = null;
    wake.resolve();
  }
}
