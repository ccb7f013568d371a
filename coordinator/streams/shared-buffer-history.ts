// The retained window of a shared buffer: packet-aligned chunks addressed by absolute
// byte offset, plus the clean entry points (PAT + PMT + keyframe) inside the window.
//
// Readers hold only an absolute offset, never a copy, so hundreds of readers cost one
// number each; dropping the oldest chunk is what bounds memory, and a reader whose
// offset falls before the window start knows it has been overtaken.

export interface EntryPoint {
  /** Absolute offset of the keyframe packet. */
  offset: number;
  /** Latest PAT and PMT before the keyframe (376 bytes), sent to a joining reader first. */
  prefix: Uint8Array;
  segment: number;
}

interface Chunk {
  start: number;
  data: Uint8Array;
}

/** Below this many bytes left in a chunk, a read coalesces following chunks (fewer, larger enqueues). */
const COALESCE_BELOW = 16 * 1024;
const COALESCE_UP_TO = 64 * 1024;

export class BufferHistory {
  // Arrays with a moving head: shift() would be O(n) per drop with many small chunks.
  private chunks: Chunk[] = [];
  private head = 0;
  private entries: EntryPoint[] = [];
  private entryHead = 0;
  /** Absolute offset just past the newest byte. */
  endOffset = 0;
  bufferedBytes = 0;

  /** Absolute offset of the oldest retained byte. */
  get startOffset(): number {
    const first = this.chunks[this.head];
    return first ? first.start : this.endOffset;
  }

  /** Appends an owned, packet-aligned chunk; returns its absolute start offset. */
  append(data: Uint8Array): number {
    const start = this.endOffset;
    this.chunks.push({ start, data });
    this.endOffset += data.length;
    this.bufferedBytes += data.length;
    return start;
  }

  addEntryPoint(entry: EntryPoint): void {
    this.entries.push(entry);
  }

  latestEntry(): EntryPoint | null {
    return this.entries.length > this.entryHead ? this.entries[this.entries.length - 1]! : null;
  }

  /** Earliest retained entry point at or after `offset`, or null. */
  entryFrom(offset: number): EntryPoint | null {
    for (let i = this.entryHead; i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      if (entry.offset >= offset) return entry;
    }
    return null;
  }

  /** Drops whole oldest chunks until at most `maxBytes` remain (the newest chunk always stays). */
  trim(maxBytes: number): void {
    while (this.bufferedBytes > maxBytes && this.chunks.length - this.head > 1) {
      const dropped = this.chunks[this.head]!;
      this.chunks[this.head] = undefined as unknown as Chunk; // let GC reclaim it now
      this.head++;
      this.bufferedBytes -= dropped.data.length;
    }
    const start = this.startOffset;
    while (this.entryHead < this.entries.length && this.entries[this.entryHead]!.offset < start) this.entryHead++;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
    if (this.entryHead > 256 && this.entryHead * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.entryHead);
      this.entryHead = 0;
    }
  }

  /**
   * Bytes from absolute offset `pos` (which must lie in the window): a zero-copy view of
   * the rest of its chunk, or, when that is small and more follows, a copy of up to
   * 64 KiB joined from following chunks. Null when `pos` is at the end.
   */
  read(pos: number): Uint8Array | null {
    if (pos >= this.endOffset) return null;
    const index = this.findChunk(pos);
    const chunk = this.chunks[index]!;
    const view = chunk.data.subarray(pos - chunk.start);
    const last = this.chunks.length - 1;
    if (view.length >= COALESCE_BELOW || index === last) return view;
    let total = view.length;
    let end = index;
    while (end < last && total + this.chunks[end + 1]!.data.length <= COALESCE_UP_TO) {
      end++;
      total += this.chunks[end]!.data.length;
    }
    if (end === index) return view;
    const joined = new Uint8Array(total);
    joined.set(view, 0);
    let at = view.length;
    for (let i = index + 1; i <= end; i++) {
      const data = this.chunks[i]!.data;
      joined.set(data, at);
      at += data.length;
    }
    return joined;
  }

  /** Index of the chunk holding `pos`; readers are usually near the end, but binary search is cheap anyway. */
  private findChunk(pos: number): number {
    let lo = this.head;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.chunks[mid]!.start <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
