// Turns an arbitrary byte stream (pipe reads, gRPC messages) into whole 188-byte TS
// packets, because every later step (splicing, fan-out, counter rewriting) may only
// cut on packet boundaries.
//
// Speed matters more than elegance here: this runs on every relayed byte. A push
// returns subarrays of the caller's chunk (no copy) covering runs of aligned packets;
// only a packet that straddles two chunks is copied (188 bytes). In sync, one byte
// check per packet; once sync is lost, a candidate 0x47 is accepted only if the next
// packet boundary also holds 0x47, so a stray 0x47 inside garbage does not lock us
// onto the wrong phase. (A packet cut short by lost bytes is not detectable in sync
// without dropping genuine packets that precede garbage; the counters reveal it.)
import { TS_PACKET_SIZE, TS_SYNC_BYTE } from './constants.ts';

export class PacketAligner {
  private readonly partial = new Uint8Array(TS_PACKET_SIZE);
  private partialLength = 0;
  /** In sync: the previous packet was accepted, so the phase is known. */
  private locked = false;
  /** Bytes thrown away while searching for sync (garbage, truncated packets). */
  droppedBytes = 0;
  /** How many times sync was lost and searched for again. */
  resyncs = 0;

  /** Bytes of an incomplete packet carried over to the next push. */
  get pendingBytes(): number {
    return this.partialLength;
  }

  /**
   * Feeds one chunk; returns spans whose lengths are multiples of 188, each starting
   * with a sync byte, in stream order. Spans alias `chunk` (except a straddling packet),
   * so a caller that keeps them past the chunk's lifetime must copy.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let start = 0;
    if (this.partialLength > 0) {
      const need = TS_PACKET_SIZE - this.partialLength;
      // Out of sync, a just-completed packet is held until the byte after it confirms
      // it; in sync it is passed on at once so the usual case adds no latency.
      if (chunk.length < need || (chunk.length === need && !this.locked)) {
        this.partial.set(chunk, this.partialLength);
        this.partialLength += chunk.length;
        return out;
      }
      if (this.locked || chunk[need] === TS_SYNC_BYTE) {
        const packet = new Uint8Array(TS_PACKET_SIZE);
        packet.set(this.partial.subarray(0, this.partialLength));
        packet.set(chunk.subarray(0, need), this.partialLength);
        out.push(packet);
        this.partialLength = 0;
        this.locked = true;
        start = need;
      } else {
        // The carried bytes did not start a real packet: the true sync may hide inside
        // them, so rescan them joined with this chunk (rare path, copying is fine).
        const joined = new Uint8Array(this.partialLength - 1 + chunk.length);
        joined.set(this.partial.subarray(1, this.partialLength));
        joined.set(chunk, this.partialLength - 1);
        this.partialLength = 0;
        this.droppedBytes += 1;
        this.loseSync();
        this.scan(joined, 0, out);
        return out;
      }
    }
    this.scan(chunk, start, out);
    return out;
  }

  /**
   * End of stream: returns a complete packet still held for confirmation (only ever
   * one, and only when out of sync), dropping any incomplete rest.
   */
  flush(): Uint8Array[] {
    const held = this.partialLength === TS_PACKET_SIZE ? [this.partial.slice()] : [];
    if (held.length === 0) this.droppedBytes += this.partialLength;
    this.reset();
    return held;
  }

  /** Forgets any partial packet and the sync lock (a new producer starts). */
  reset(): void {
    this.partialLength = 0;
    this.locked = false;
  }

  private loseSync(): void {
    if (this.locked) this.resyncs++;
    this.locked = false;
  }

  private scan(buf: Uint8Array, from: number, out: Uint8Array[]): void {
    const len = buf.length;
    let pos = from;
    let runStart = -1;
    while (pos + TS_PACKET_SIZE <= len) {
      // In sync, a packet's own sync byte is enough (a genuine packet followed by
      // garbage must not be dropped). Out of sync, a candidate also needs a sync byte
      // at the next boundary; if that byte has not arrived yet the candidate is held
      // (below) until it does.
      const next = pos + TS_PACKET_SIZE;
      if (buf[pos] === TS_SYNC_BYTE) {
        if (this.locked || (next < len && buf[next] === TS_SYNC_BYTE)) {
          if (runStart < 0) runStart = pos;
          this.locked = true;
          pos = next;
          continue;
        }
        if (next === len) break;
      }
      if (runStart >= 0) {
        out.push(buf.subarray(runStart, pos));
        runStart = -1;
      }
      this.loseSync();
      pos = this.skipTo(buf, pos + 1, pos);
    }
    if (runStart >= 0) out.push(buf.subarray(runStart, pos));
    if (pos < len) {
      // Tail shorter than a packet: keep it only from a plausible sync byte onwards.
      if (buf[pos] !== TS_SYNC_BYTE) {
        this.loseSync();
        pos = this.skipTo(buf, pos + 1, pos);
      }
      if (pos < len) {
        this.partial.set(buf.subarray(pos), 0);
        this.partialLength = len - pos;
      }
    }
  }

  /** Position of the next sync byte at or after `from` (or the end); counts skipped bytes. */
  private skipTo(buf: Uint8Array, from: number, dropFrom: number): number {
    const next = buf.indexOf(TS_SYNC_BYTE, from);
    const stop = next < 0 ? buf.length : next;
    this.droppedBytes += stop - dropFrom;
    return stop;
  }
}
