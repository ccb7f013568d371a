// FFmpeg's stdout reads end at arbitrary byte offsets (~77 KiB here), but every uplink
// message must carry whole 188-byte MPEG-TS packets. Unlike TsPacketAligner, which joins
// the carried remainder and the new read into a fresh array (a copy of every output
// byte), this returns views: at most one 188-byte packet joined from the remainder and
// the read's first bytes, then the read's whole packets in place. The uplink encoder
// (common/job-stream-wire.ts) copies the pieces once, into grpc-js's frame.
import { TS_PACKET_SIZE } from './ts-packet-aligner';

export class TsPacketSplitter {
  private rest: Uint8Array = new Uint8Array(0);

  /** Whole packets available so far, as consecutive pieces (possibly none). */
  push(chunk: Uint8Array): Uint8Array[] {
    const pieces: Uint8Array[] = [];
    let from = 0;
    if (this.rest.byteLength > 0) {
      const need = TS_PACKET_SIZE - this.rest.byteLength;
      if (chunk.byteLength < need) {
        const joined = new Uint8Array(this.rest.byteLength + chunk.byteLength);
        joined.set(this.rest, 0);
        joined.set(chunk, this.rest.byteLength);
        this.rest = joined;
        return pieces;
      }
      const packet = new Uint8Array(TS_PACKET_SIZE);
      packet.set(this.rest, 0);
      packet.set(chunk.subarray(0, need), this.rest.byteLength);
      pieces.push(packet);
      from = need;
    }
    const whole = from + Math.floor((chunk.byteLength - from) / TS_PACKET_SIZE) * TS_PACKET_SIZE;
    if (whole > from) pieces.push(chunk.subarray(from, whole));
    // The remainder is under one packet: copy it so the read's buffer is not kept alive.
    this.rest = chunk.slice(whole);
    return pieces;
  }

  /** Bytes held back; a non-zero value at end of stream means FFmpeg wrote a torn packet. */
  get pending(): number {
    return this.rest.byteLength;
  }
}
