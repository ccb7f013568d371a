// The job stream's bulk messages (source bytes down, MPEG-TS up) encoded straight into
// grpc-js's frame, with one copy per byte instead of two or three (issue 15).
//
// grpc-js frames every outgoing message the same way, at both ends (server:
// ServerInterceptingCall.serializeMessage; client: IdentityHandler.writeMessage in
// compression-filter): it allocates `length + 5` bytes, writes the 5-byte gRPC header and
// calls `serialized.copy(frame, 5)`. With the generated serializer (protobufjs) a 64 KiB
// chunk is first copied into protobufjs's own fresh buffer, then into the frame; on the
// worker the MPEG-TS aligner made a third copy. A PreframedMessage holds the few header
// bytes of the protobuf encoding plus views of the payload, and its `copy` writes them
// into grpc-js's frame directly: the frame is the only copy.
//
// Field numbers below are those of proto/transcode.proto (JobDownlink, JobUplink, Chunk);
// tests/unit/job-stream-wire.encode.test.ts decodes every form with the real .proto.
// Every other message (open, progress, input_ended) goes through the generated serializer.
// A PreframedMessage also reads as the plain message (a lazy `input`/`output`/`*_chunk`
// property), so a serializer that was not wrapped with passPreframed still encodes it
// right, only with the old copies.

const WIRE_LEN = 2; // length-delimited
const WIRE_VARINT = 0;

/** JobDownlink.input: source bytes, in order (single call). */
export const downlinkInput = (data: Uint8Array) => preframedBytes(1, 'input', [data]);
/** JobDownlink.input_chunk: source bytes by seq (lanes). */
export const downlinkInputChunk = (seq: number, data: Uint8Array) => preframedChunk(3, 'input_chunk', seq, [data]);
/** JobUplink.output: whole MPEG-TS packets, as consecutive pieces (single call). */
export const uplinkOutput = (pieces: readonly Uint8Array[]) => preframedBytes(2, 'output', pieces);
/** JobUplink.output_chunk: whole MPEG-TS packets by seq (lanes). */
export const uplinkOutputChunk = (seq: number, pieces: readonly Uint8Array[]) => preframedChunk(4, 'output_chunk', seq, pieces);
/** Chunk.seq (uint64 = 1), Chunk.data (bytes = 2). */
const CHUNK = { seq: 1, data: 2 } as const;

/**
 * One encoded protobuf message: `head` (tags and lengths) followed by `pieces`. Quacks like
 * the Buffer that grpc-js expects from a serializer: `length`, `byteLength`, `copy()`.
 */
export class PreframedMessage {
  readonly byteLength: number;

  constructor(
    private readonly head: Uint8Array,
    private readonly pieces: readonly Uint8Array[],
    plain?: { key: string; value: (joined: Uint8Array) => unknown },
  ) {
    let n = head.byteLength;
    for (const p of pieces) n += p.byteLength;
    this.byteLength = n;
    if (plain) {
      Object.defineProperty(this, plain.key, { enumerable: true, get: () => plain.value(joinPieces(pieces)) });
    }
    this.plainKey = plain?.key;
  }

  private readonly plainKey: string | undefined;

  /** The message as the generated types spell it, e.g. `{ input_chunk: { seq, data } }` (tests, logs). */
  plain(): Record<string, unknown> {
    return this.plainKey === undefined ? {} : { [this.plainKey]: (this as unknown as Record<string, unknown>)[this.plainKey] };
  }

  get length(): number {
    return this.byteLength;
  }

  /** Buffer#copy: writes [sourceStart, sourceEnd) of the encoding at target[targetStart]. */
  copy(target: Uint8Array, targetStart = 0, sourceStart = 0, sourceEnd = this.byteLength): number {
    if (sourceStart !== 0 || sourceEnd !== this.byteLength) {
      const whole = this.toBytes();
      target.set(whole.subarray(sourceStart, sourceEnd), targetStart);
      return Math.max(0, Math.min(sourceEnd, whole.byteLength) - sourceStart);
    }
    let at = targetStart;
    target.set(this.head, at);
    at += this.head.byteLength;
    for (const p of this.pieces) {
      target.set(p, at);
      at += p.byteLength;
    }
    return at - targetStart;
  }

  /** The encoding as one array (tests, and any caller that needs real bytes). */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    this.copy(out, 0);
    return out;
  }
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(out: Uint8Array, at: number, n: number): number {
  // Division, not >>>: sequence numbers may pass 2^32 on a long-running job.
  while (n >= 128) {
    out[at++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

function joinPieces(pieces: readonly Uint8Array[]): Uint8Array {
  if (pieces.length === 1) return pieces[0]!;
  const out = new Uint8Array(totalLength(pieces));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function totalLength(pieces: readonly Uint8Array[]): number {
  let n = 0;
  for (const p of pieces) n += p.byteLength;
  return n;
}

/** A message whose only field is `bytes field = pieces joined` (`key`: the field's name). */
export function preframedBytes(field: number, key: string, pieces: readonly Uint8Array[]): PreframedMessage {
  const len = totalLength(pieces);
  const head = new Uint8Array(1 + varintLength(len));
  head[0] = (field << 3) | WIRE_LEN;
  writeVarint(head, 1, len);
  return new PreframedMessage(head, pieces, { key, value: (data) => data });
}

/** A message whose only field is `Chunk field = { seq, data: pieces joined }` (`key`: the field's name). */
export function preframedChunk(field: number, key: string, seq: number, pieces: readonly Uint8Array[]): PreframedMessage {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`chunk seq must be a non-negative safe integer, got ${seq}`);
  const dataLen = totalLength(pieces);
  const inner = 1 + varintLength(seq) + 1 + varintLength(dataLen) + dataLen;
  const head = new Uint8Array(1 + varintLength(inner) + 1 + varintLength(seq) + 1 + varintLength(dataLen));
  head[0] = (field << 3) | WIRE_LEN;
  let at = writeVarint(head, 1, inner);
  head[at++] = (CHUNK.seq << 3) | WIRE_VARINT;
  at = writeVarint(head, at, seq);
  head[at++] = (CHUNK.data << 3) | WIRE_LEN;
  writeVarint(head, at, dataLen);
  return new PreframedMessage(head, pieces, { key, value: (data) => ({ seq, data }) });
}

/**
 * Wraps a method's generated serializer: a PreframedMessage passes through (grpc-js copies
 * it into its frame), anything else is serialized as before.
 */
export function passPreframed<T>(serialize: (value: T) => Buffer): (value: T | PreframedMessage) => Buffer {
  return (value) => (value instanceof PreframedMessage ? (value as unknown as Buffer) : serialize(value));
}
