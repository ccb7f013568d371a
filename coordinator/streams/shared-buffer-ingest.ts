// The write side of a shared buffer: aligns producer bytes to packets, holds back a new
// producer until it offers a clean entry point, rewrites continuity counters so the
// splice is invisible to players, and records PAT/PMT/keyframe positions.
//
// Gating matters after failover: a replacement worker's first bytes may start
// mid-GOP or before its PAT/PMT, and readers already attached would otherwise see
// undecodable video. Everything before (PAT, PMT, keyframe) is dropped; the PAT and
// PMT seen while gating are re-emitted just before the keyframe.
//
// A new producer may carry another program (a source that changed codec, audio or
// resolution, relayed with -c copy), and every FFmpeg numbers its PAT/PMT version 0. The
// output's tables therefore get their own version numbers, following what the output
// carries; and where the program layout changed at a splice, each elementary PID gets a
// discontinuity_indicator packet before its first new packet, so decoders reset there.
import { ContinuityRewriter } from '../../common/mpegts/continuity.ts';
import { AF_DISCONTINUITY, PID_NULL, TABLE_ID_PAT, TABLE_ID_PMT, TS_PACKET_SIZE, TS_SYNC_BYTE } from '../../common/mpegts/constants.ts';
import { readPid } from '../../common/mpegts/packet-header.ts';
import { PacketAligner } from '../../common/mpegts/packet-aligner.ts';
import { PacketKind, ProgramTracker } from '../../common/mpegts/program-tracker.ts';
import { locateSection, sectionVersion, setSectionVersion, type Pmt } from '../../common/mpegts/psi.ts';
import type { BufferHistory } from './shared-buffer-history.ts';

/**
 * A handed-over chunk at least this long is kept without a copy. Smaller ones are copied:
 * they may be views of a shared allocation pool (Buffer.allocUnsafe pools small sizes),
 * which keeping would pin, and copying them costs little.
 */
const KEEP_AS_IS_FROM = 4096;

/**
 * After a program change, packets scanned for the new program's PIDs at most: a PID the
 * PMT lists but that never carries packets (an empty subtitle stream) must not cost a
 * look at every packet for ever. ~9 MB: seconds of any stream.
 */
const DISCONTINUITY_SCAN_PACKETS = 50_000;

/**
 * The output's version_number of one table (PAT or PMT). Players re-read a table only
 * when its version changes, so a new producer's PMT with other content but FFmpeg's
 * version 0 again would leave them decoding the old codec; and an identical table whose
 * producer happens to number it differently must not look changed. So: +1 (mod 32) when
 * the content differs from the last one delivered, the last version when it does not.
 */
class TableVersion {
  /** Section of the last table delivered, CRC excluded (version bits as its producer had them). */
  private body: Uint8Array | null = null;
  private version = 0;

  /** Restamps the section buf[start, end) in place. */
  stamp(buf: Uint8Array, start: number, end: number): void {
    const own = sectionVersion(buf, start);
    if (this.body === null) {
      this.version = own; // the first table: its producer's numbering stands
      this.body = buf.slice(start, end - 4);
      return;
    }
    if (!sameContent(this.body, buf, start, end)) {
      this.version = (this.version + 1) & 0x1f;
      this.body = buf.slice(start, end - 4);
    }
    if (own !== this.version) setSectionVersion(buf, start, end, this.version);
  }
}

/** Same section body (CRC excluded) apart from version_number. */
function sameContent(body: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (end - 4 - start !== body.length) return false;
  for (let i = 0; i < body.length; i++) {
    const diff = body[i]! ^ buf[start + i]!;
    if (diff !== 0 && (i !== 5 || (diff & 0xc1) !== 0)) return false; // byte 5: version bits 1-5
  }
  return true;
}

/** What makes another program for a decoder: PMT PID, PCR PID, each stream's PID and type. */
function programLayout(pmtPid: number, pmt: Pmt): string {
  const streams = pmt.streams.map((s) => `${s.pid}:${s.streamType}:${s.registration ?? ''}`);
  return `${pmtPid}/${pmt.pcrPid}/${streams.join(',')}`;
}

/**
 * An adaptation-field-only packet (no payload) with discontinuity_indicator set, to go
 * just before `next` on its PID. Its counter is in the producer's numbering, one below
 * `next`'s when that carries payload (equal otherwise), so the rewriter anchors the PID
 * on it exactly as it would have on `next`: out, it repeats the PID's last counter and
 * `next` continues from it.
 */
function discontinuityPacket(next: Uint8Array, o: number): Uint8Array {
  const packet = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  const b3 = next[o + 3]!;
  packet[0] = TS_SYNC_BYTE;
  packet[1] = next[o + 1]! & 0x1f; // PID high bits; no payload_unit_start, no priority
  packet[2] = next[o + 2]!;
  packet[3] = 0x20 | (((b3 & 0x0f) - ((b3 & 0x10) !== 0 ? 1 : 0)) & 0x0f); // adaptation field only
  packet[4] = TS_PACKET_SIZE - 5; // adaptation_field_length: the rest of the packet
  packet[5] = AF_DISCONTINUITY; // flags; the rest is stuffing (0xff)
  return packet;
}

export class SegmentIngest {
  private readonly aligner = new PacketAligner();
  private readonly rewriter = new ContinuityRewriter();
  private tracker = new ProgramTracker();
  private gating = true;
  private gatePat: Uint8Array | null = null;
  private gatePmt: Uint8Array | null = null;
  private latestPat: Uint8Array | null = null;
  private latestPmt: Uint8Array | null = null;
  private readonly patVersion = new TableVersion();
  private readonly pmtVersion = new TableVersion();
  /** Layout of the last PMT delivered (programLayout), null before the first. */
  private deliveredLayout: string | null = null;
  /** PIDs of a changed program whose first packet still needs a discontinuity packet before it. */
  private pendingDiscontinuity = new Set<number>();
  private discontinuityScanLeft = 0;
  /** Current producer: 0 for the first, +1 per beginSegment(). */
  segment = 0;
  keyframes = 0;
  /** Splices where the new producer carried another program layout (programLayout). */
  programChanges = 0;
  /** Bytes discarded while waiting for an entry point, plus garbage the aligner skipped. */
  private gatedBytes = 0;

  constructor(private readonly history: BufferHistory) {}

  get droppedBytes(): number {
    return this.gatedBytes + this.aligner.droppedBytes;
  }

  /** True until the current producer has delivered PAT, PMT and a keyframe. */
  get waitingForEntry(): boolean {
    return this.gating;
  }

  /** A new producer; `anyFrame`: no entry point awaited (SharedBuffer.beginSegment). */
  begin(anyFrame = false): void {
    this.segment++;
    this.aligner.reset();
    this.tracker = new ProgramTracker();
    this.gating = !anyFrame;
    this.gatePat = null;
    this.gatePmt = null;
    this.rewriter.splice();
  }

  /**
   * Takes one producer chunk; returns how many bytes were appended to the history.
   * `handedOver`: the caller gives the chunk up (it never reads or reuses those bytes again),
   * so the history may keep it as it is and rewrite counters in place.
   */
  write(chunk: Uint8Array, handedOver = false): number {
    return this.accept(this.aligner.push(chunk), handedOver);
  }

  /** End of stream: appends a packet the aligner still held for confirmation, if any. */
  flush(): number {
    return this.accept(this.aligner.flush());
  }

  private accept(spans: Uint8Array[], handedOver = false): number {
    if (spans.length === 0) return 0;
    let pieces = this.gating ? this.passGate(spans) : spans;
    if (pieces.length === 0) return 0;
    if (this.pendingDiscontinuity.size > 0) pieces = this.markDiscontinuities(pieces);
    if (handedOver && pieces.length === 1 && pieces[0]!.length >= KEEP_AS_IS_FROM) {
      // A handed-over chunk (a gRPC message the coordinator alone holds): kept as it is.
      // On the relay path this copy was 12-14% of the coordinator's CPU (issue 15).
      const piece = pieces[0]!;
      this.index(piece, this.history.append(piece));
      return piece.length;
    }
    // Otherwise one copy per write: the history must own its bytes (the producer may reuse
    // its buffer, and counters are rewritten in place); all readers then share this copy.
    let total = 0;
    for (const piece of pieces) total += piece.length;
    const owned = new Uint8Array(total);
    let at = 0;
    for (const piece of pieces) {
      owned.set(piece, at);
      at += piece.length;
    }
    this.index(owned, this.history.append(owned));
    return total;
  }

  /** Scans packets while gating; returns what may be appended (empty until the keyframe). */
  private passGate(spans: Uint8Array[]): Uint8Array[] {
    for (let s = 0; s < spans.length; s++) {
      const span = spans[s]!;
      for (let o = 0; o < span.length; o += TS_PACKET_SIZE) {
        const kind = this.tracker.inspect(span, o);
        if (kind === PacketKind.Pat) this.gatePat = span.slice(o, o + TS_PACKET_SIZE);
        else if (kind === PacketKind.Pmt) this.gatePmt = span.slice(o, o + TS_PACKET_SIZE);
        else if (kind === PacketKind.Keyframe && this.gatePat && this.gatePmt) {
          this.gating = false;
          this.gatedBytes += o;
          this.compareProgram();
          return [this.gatePat, this.gatePmt, span.subarray(o), ...spans.slice(s + 1)];
        }
      }
      this.gatedBytes += span.length;
    }
    return [];
  }

  /**
   * At a splice (the gate opening): a program whose layout differs from the one the
   * output carried so far has each of its elementary PIDs (and its PCR PID) marked for
   * a discontinuity packet. The same program passes unmarked, so a failover between
   * producers of one program stays byte for byte what it was. A joiner at any frame
   * (beginSegment(true)) continues the same program by contract and is not compared.
   */
  private compareProgram(): void {
    const pmt = this.tracker.pmt;
    if (!pmt || this.deliveredLayout === null || programLayout(this.tracker.pmtPid, pmt) === this.deliveredLayout) return;
    this.programChanges++;
    this.pendingDiscontinuity = new Set([pmt.pcrPid, ...pmt.streams.map((s) => s.pid)]);
    this.pendingDiscontinuity.delete(PID_NULL); // pcr_pid 0x1FFF: no PCR
    this.discontinuityScanLeft = DISCONTINUITY_SCAN_PACKETS;
  }

  /** Puts a discontinuity packet before the first packet of each marked PID in `pieces`. */
  private markDiscontinuities(pieces: Uint8Array[]): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const piece of pieces) {
      let from = 0;
      for (let o = 0; o < piece.length && this.pendingDiscontinuity.size > 0; o += TS_PACKET_SIZE) {
        if (!this.pendingDiscontinuity.delete(readPid(piece, o))) continue;
        if (o > from) out.push(piece.subarray(from, o));
        out.push(discontinuityPacket(piece, o));
        from = o;
      }
      out.push(from === 0 ? piece : piece.subarray(from));
      this.discontinuityScanLeft -= piece.length / TS_PACKET_SIZE;
    }
    if (this.discontinuityScanLeft <= 0) this.pendingDiscontinuity.clear();
    return out;
  }

  /** Rewrites counters and records PSI and keyframes of a freshly appended chunk. */
  private index(owned: Uint8Array, start: number): void {
    for (let o = 0; o < owned.length; o += TS_PACKET_SIZE) {
      this.rewriter.rewritePacket(owned, o);
      const kind = this.tracker.inspect(owned, o);
      if (kind === PacketKind.Other) continue;
      // PSI copies are taken after rewriting, so a joining reader's replayed PAT/PMT
      // carry the counter that the next in-stream PAT/PMT continues from, and the
      // output's version number.
      if (kind === PacketKind.Pat) {
        this.restamp(owned, o, TABLE_ID_PAT, this.patVersion);
        this.latestPat = owned.slice(o, o + TS_PACKET_SIZE);
      } else if (kind === PacketKind.Pmt) {
        this.restamp(owned, o, TABLE_ID_PMT, this.pmtVersion);
        this.latestPmt = owned.slice(o, o + TS_PACKET_SIZE);
        this.deliveredLayout = programLayout(this.tracker.pmtPid, this.tracker.pmt!);
      } else if (this.latestPat && this.latestPmt) {
        this.keyframes++;
        const prefix = new Uint8Array(2 * TS_PACKET_SIZE);
        prefix.set(this.latestPat, 0);
        prefix.set(this.latestPmt, TS_PACKET_SIZE);
        this.history.addEntryPoint({ offset: start + o, prefix, segment: this.segment });
      }
    }
  }

  private restamp(owned: Uint8Array, o: number, tableId: number, version: TableVersion): void {
    const section = locateSection(owned, o, tableId);
    if (section) version.stamp(owned, section[0], section[1]);
  }
}
