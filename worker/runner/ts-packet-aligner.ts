// Pipe reads end at arbitrary byte offsets, but every uplink `output` message must
// carry whole 188-byte MPEG-TS packets (the coordinator splices on packet
// boundaries). This cuts chunks at packet boundaries and carries the remainder.
export const TS_PACKET_SIZE = 188;

export class TsPacketAligner {
  private rest: Uint8Array = new Uint8Array(0);

  /** Returns the whole packets available so far (possibly empty). */
  push(chunk: Uint8Array): Uint8Array {
    let data = chunk;
    if (this.rest.length > 0) {
      data = new Uint8Array(this.rest.length + chunk.length);
      data.set(this.rest, 0);
      data.set(chunk, this.rest.length);
    }
    const whole = data.length - (data.length % TS_PACKET_SIZE);
    this.rest = data.slice(whole);
    return data.subarray(0, whole);
  }

  /** Bytes held back; a non-zero value at end of stream means FFmpeg wrote a torn packet. */
  get pending(): number {
    return this.rest.length;
  }
}
