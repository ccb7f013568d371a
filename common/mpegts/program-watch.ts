// Notices a live source changing its program: a new PMT (codec, PIDs, descriptors), a
// new video SPS (size, profile) or a new audio format under an unchanged PMT. The
// coordinator restarts its transcodes on these, so a change is reported once, when it
// first shows, and the first program seen is the baseline, not a change.
//
// Cheap on purpose (every packet of every source): it reads only single-packet PSI
// sections and the first packet of each video/audio PES, compares bytes before parsing,
// and keeps fixed-size copies. A PMT change clears the video and audio baselines: the
// PMT change already explains what follows it, so the new codec's first SPS or audio
// header becomes the new baseline instead of a second change.
import { PID_COUNT, PID_PAT, TABLE_ID_PAT, TABLE_ID_PMT, TS_PACKET_SIZE, TS_SYNC_BYTE } from './constants.ts';
import { audioCodecOf, readAudioFormat, type AudioCodec, type AudioFormat } from './es-headers.ts';
import { readPayloadOffset } from './packet-header.ts';
import { firstPmtPid, parsePat, parsePmt, type Pmt, type PmtStream } from './psi.ts';
import { describeVideoChange, VideoParameters } from './video-parameter-sets.ts';

export type ProgramChangeKind = 'pmt' | 'video' | 'audio';

export interface ProgramChange {
  kind: ProgramChangeKind;
  detail: string;
  /** Byte offset, in the span given to inspect(), of the packet that showed the change. */
  offset: number;
}

export interface WatchedVideo {
  pid: number;
  codec: string | null;
  /** 0 until an SPS / sequence header was parsed (or when it could not be). */
  width: number;
  height: number;
  profile: number;
}

export interface WatchedAudio extends AudioFormat {
  pid: number;
}

/** Audio PIDs followed at most; further ones in a PMT are ignored (bounded state). */
export const MAX_WATCHED_AUDIO = 16;

export interface ProgramWatchOptions {
  /**
   * Packets to wait for a PAT (at the start) or for the PMT a PAT names before
   * `unsupported` says it is missing; default 30 000 (5.6 MB: over 1 s even at 40 Mbit/s,
   * where PSI comes every 100 ms). Counted in packets, not time, so the watch stays pure.
   */
  psiWaitPackets?: number;
}

const NO_CHANGES: readonly ProgramChange[] = Object.freeze([]);

export class ProgramWatch {
  /** Latest program's video stream, or null before a PMT (or when it has no video). */
  video: WatchedVideo | null = null;
  /** One entry per followed audio PID of the latest PMT, in PMT order. */
  readonly audio: WatchedAudio[] = [];
  private patProblem: string | null = null;
  private pmtProblem: string | null = null;
  /** Which table is awaited, since which packet (this.packets): a missing one is reported after psiWait. */
  private waitingFor: 'PAT' | 'PMT' | null = 'PAT';
  private waitingSince = 0;
  private packets = 0;
  private readonly psiWait: number;
  /** PMT PID that the latest PAT names (-1 before one). */
  private patPmtPid = -1;
  private readonly patCopy = new SectionCopy();
  /** Accepted PMT: its PID, section bytes and parse. */
  private pmtPid = -1;
  private readonly pmtCopy = new SectionCopy();
  private pmt: Pmt | null = null;
  private readonly videoParams = new VideoParameters();
  /** Audio slot per PID, -1 = not followed. */
  private readonly audioSlot = new Int8Array(PID_COUNT).fill(-1);
  private readonly audioCodecs: AudioCodec[] = [];
  /** Whether each slot's format is a baseline yet (cleared by a PMT change). */
  private readonly audioKnown = new Uint8Array(MAX_WATCHED_AUDIO);
  private readonly scratch: AudioFormat = { codec: '', sampleRate: 0, channels: 0 };
  private changes: ProgramChange[] | null = null;

  constructor(options: ProgramWatchOptions = {}) {
    this.psiWait = options.psiWaitPackets ?? 30_000;
  }

  /** Why the program cannot be followed right now, or null (a stable string while the reason lasts). */
  get unsupported(): string | null {
    if (this.patProblem !== null || this.pmtProblem !== null) return this.patProblem ?? this.pmtProblem;
    if (this.waitingFor === null || this.packets - this.waitingSince < this.psiWait) return null;
    const where = this.waitingFor === 'PMT' ? ` on PID ${hex(this.patPmtPid)}` : '';
    return `no ${this.waitingFor} seen${where} in ${this.psiWait} packets`;
  }

  /**
   * A new upstream connection: its PMT is read only from the PID its own PAT names. No
   * other state spans packets, and every baseline (PMT, SPS, audio formats) is kept on
   * purpose, so the new connection's program is compared with the old one.
   */
  reset(): void {
    this.patPmtPid = -1;
    this.patCopy.clear();
    this.waitingFor = 'PAT';
    this.waitingSince = this.packets;
  }

  /** Inspects the whole packets of `packets`; returns the changes they show (shared empty array when none). */
  inspect(packets: Uint8Array): readonly ProgramChange[] {
    for (let o = 0; o + TS_PACKET_SIZE <= packets.length; o += TS_PACKET_SIZE) {
      // Only unit starts matter; a transport error makes the packet's bytes untrustworthy.
      if (packets[o] !== TS_SYNC_BYTE || (packets[o + 1]! & 0xc0) !== 0x40) continue;
      const pid = ((packets[o + 1]! & 0x1f) << 8) | packets[o + 2]!;
      if (pid === PID_PAT) this.onPat(packets, o);
      else if (pid === this.patPmtPid) this.onPmt(packets, o);
      else if (pid === this.videoParams.pid) this.onVideo(packets, o);
      else if (this.audioSlot[pid]! >= 0) this.onAudio(packets, o, this.audioSlot[pid]!);
    }
    this.packets += Math.floor(packets.length / TS_PACKET_SIZE);
    const changes = this.changes;
    this.changes = null;
    return changes ?? NO_CHANGES;
  }

  private onPat(buf: Uint8Array, o: number): void {
    const start = sectionStart(buf, o, TABLE_ID_PAT);
    if (start < 0) return;
    const length = sectionLength(buf, start);
    if (start + length > o + TS_PACKET_SIZE) {
      this.patProblem = `PAT spans several packets (${length} bytes); not supported`;
      return;
    }
    if (this.patCopy.equals(buf, start, start + length)) {
      this.patProblem = null;
      return;
    }
    const pat = parsePat(buf, o);
    if (!pat) return; // bad CRC: wait for the next one
    this.patCopy.store(buf, start, start + length);
    const pmtPid = firstPmtPid(pat);
    this.patProblem = pmtPid < 0 ? 'PAT lists no program' : null;
    if (this.waitingFor === 'PAT') this.waitingFor = null;
    if (pmtPid === this.patPmtPid) return;
    this.patPmtPid = pmtPid;
    // A new PMT PID is reported with the PMT found there (one change with both details).
    this.waitingFor = pmtPid >= 0 && pmtPid !== this.pmtPid ? 'PMT' : null;
    this.waitingSince = this.packets;
  }

  private onPmt(buf: Uint8Array, o: number): void {
    const start = sectionStart(buf, o, TABLE_ID_PMT);
    if (start < 0) return;
    const length = sectionLength(buf, start);
    if (start + length > o + TS_PACKET_SIZE) {
      this.pmtProblem = `PMT spans several packets (${length} bytes); not supported`;
      return;
    }
    const samePid = this.patPmtPid === this.pmtPid;
    if (samePid && this.pmtCopy.equals(buf, start, start + length)) {
      this.pmtProblem = null;
      this.waitingFor = null;
      return;
    }
    const pmt = parsePmt(buf, o);
    if (!pmt) return; // bad CRC or layout
    const previous = this.pmt;
    if (previous) {
      this.report('pmt', describePmtChange(previous, pmt, this.pmtPid, this.patPmtPid), o);
    }
    this.pmtCopy.store(buf, start, start + length);
    this.pmtPid = this.patPmtPid;
    this.pmt = pmt;
    this.pmtProblem = null;
    this.waitingFor = null;
    this.follow(pmt);
  }

  /** Takes the streams of a newly accepted PMT; all video/audio baselines start afresh. */
  private follow(pmt: Pmt): void {
    const old = this.video;
    const stream = pmt.streams.find((s) => s.pid === pmt.videoPid);
    this.videoParams.follow(pmt.videoPid, stream?.videoCodec ?? null);
    if (!stream) this.video = null;
    else if (old && old.pid === stream.pid && old.codec === stream.videoCodec) this.video = { ...old };
    else this.video = { pid: stream.pid, codec: stream.videoCodec, width: 0, height: 0, profile: 0 };

    const kept = new Map(this.audio.map((a, i) => [a.pid, { entry: a, codec: this.audioCodecs[i] }]));
    for (const a of this.audio) this.audioSlot[a.pid] = -1;
    this.audio.length = 0;
    this.audioCodecs.length = 0;
    this.audioKnown.fill(0);
    for (const s of pmt.streams) {
      const codec = audioCodecOf(s.streamType, s.descriptorTags);
      if (codec === null || this.audio.length >= MAX_WATCHED_AUDIO || this.audioSlot[s.pid]! >= 0) continue;
      const before = kept.get(s.pid);
      // Shown until the first header: the previous format when the codec stayed, else the PMT's name.
      const entry = before && before.codec === codec ? { ...before.entry } : { pid: s.pid, codec, sampleRate: 0, channels: 0 };
      this.audioSlot[s.pid] = this.audio.length;
      this.audio.push(entry);
      this.audioCodecs.push(codec);
    }
  }

  private onVideo(buf: Uint8Array, o: number): void {
    const es = pesDataStart(buf, o);
    if (es < 0 || !this.video) return;
    const seen = this.videoParams.scan(buf, es, o + TS_PACKET_SIZE);
    if (seen === null) return;
    const before = this.video;
    if (seen.format) this.video = { ...before, ...seen.format };
    if (seen.changed) this.report('video', describeVideoChange(before, this.video, seen.name), o);
  }

  private onAudio(buf: Uint8Array, o: number, slot: number): void {
    const es = pesDataStart(buf, o);
    const codec = this.audioCodecs[slot]!;
    if (es < 0 || !readAudioFormat(codec, buf, es, o + TS_PACKET_SIZE, this.scratch)) return;
    const current = this.audio[slot]!;
    const f = this.scratch;
    if (this.audioKnown[slot] === 1 && current.codec === f.codec && current.sampleRate === f.sampleRate && current.channels === f.channels) return;
    const next: WatchedAudio = { pid: current.pid, codec: f.codec, sampleRate: f.sampleRate, channels: f.channels };
    if (this.audioKnown[slot] === 1) this.report('audio', `audio ${describeAudio(current)} -> ${describeAudio(next)} on PID ${hex(current.pid)}`, o);
    this.audioKnown[slot] = 1;
    this.audio[slot] = next;
  }

  private report(kind: ProgramChangeKind, detail: string, offset: number): void {
    (this.changes ??= []).push({ kind, detail, offset });
  }
}

/** The bytes of the last accepted single-packet section, to compare the next one with. */
class SectionCopy {
  private readonly bytes = new Uint8Array(TS_PACKET_SIZE);
  private length = 0;

  equals(buf: Uint8Array, start: number, end: number): boolean {
    if (end - start !== this.length) return false;
    for (let i = 0; i < this.length; i++) if (this.bytes[i] !== buf[start + i]) return false;
    return true;
  }

  store(buf: Uint8Array, start: number, end: number): void {
    this.bytes.set(buf.subarray(start, end));
    this.length = end - start;
  }

  clear(): void {
    this.length = 0;
  }
}

function hex(pid: number): string {
  return `0x${pid.toString(16)}`;
}

function describeAudio(a: AudioFormat): string {
  return `${a.codec} ${a.sampleRate} Hz ${a.channels} ch`;
}

/** e.g. 'video h264 (0x1b)', 'audio aac (0x0f)', 'data (0x06)'. */
function describeStream(s: PmtStream): string {
  const type = `(0x${s.streamType.toString(16).padStart(2, '0')})`;
  if (s.videoCodec !== null) return `video ${s.videoCodec} ${type}`;
  const audio = audioCodecOf(s.streamType, s.descriptorTags);
  return audio !== null ? `audio ${audio} ${type}` : `data ${type}`;
}

/** What differs between two PMTs, e.g. 'PMT v0 -> v1: video h264 (0x1b) -> hevc (0x24) on PID 0x100'. */
export function describePmtChange(before: Pmt, after: Pmt, beforePid: number, afterPid: number): string {
  const parts: string[] = [];
  if (beforePid !== afterPid) parts.push(`PMT PID ${hex(beforePid)} -> ${hex(afterPid)}`);
  if (before.programNumber !== after.programNumber) parts.push(`program ${before.programNumber} -> ${after.programNumber}`);
  if (before.pcrPid !== after.pcrPid) parts.push(`PCR PID ${hex(before.pcrPid)} -> ${hex(after.pcrPid)}`);
  for (const a of before.streams) {
    const b = after.streams.find((s) => s.pid === a.pid);
    if (!b) parts.push(`removed ${describeStream(a)} on PID ${hex(a.pid)}`);
    else if (a.streamType !== b.streamType) {
      const [da, db] = [describeStream(a), describeStream(b)];
      const kind = da.split(' ')[0]!;
      // Same kind of stream: name it once ('video h264 (0x1b) -> hevc (0x24)').
      const to = db.startsWith(`${kind} `) && kind !== 'data' ? db.slice(kind.length + 1) : db;
      parts.push(`${da} -> ${to} on PID ${hex(a.pid)}`);
    } else if (String(a.descriptorTags) !== String(b.descriptorTags) || a.registration !== b.registration) {
      parts.push(`descriptors changed on PID ${hex(a.pid)}`);
    }
  }
  for (const b of after.streams) {
    if (!before.streams.some((s) => s.pid === b.pid)) parts.push(`added ${describeStream(b)} on PID ${hex(b.pid)}`);
  }
  // Same streams: the version, program_info or a descriptor's contents changed.
  if (parts.length === 0) parts.push('streams unchanged');
  return `PMT v${before.version} -> v${after.version}: ${parts.join('; ')}`;
}

/** Start of the PSI section of `tableId` that begins in the packet at `o`, or -1. */
function sectionStart(buf: Uint8Array, o: number, tableId: number): number {
  const payload = readPayloadOffset(buf, o);
  if (payload < 0) return -1;
  const start = o + payload + 1 + buf[o + payload]!;
  return start + 3 <= o + TS_PACKET_SIZE && buf[start] === tableId ? start : -1;
}

/** Whole section length (header and CRC included). */
function sectionLength(buf: Uint8Array, start: number): number {
  return 3 + (((buf[start + 1]! & 0x0f) << 8) | buf[start + 2]!);
}

/** Start of the elementary-stream bytes of a PES beginning in the packet at `o`, or -1. */
function pesDataStart(buf: Uint8Array, o: number): number {
  const payload = readPayloadOffset(buf, o);
  if (payload < 0) return -1;
  const p = o + payload;
  if (p + 9 > o + TS_PACKET_SIZE || buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1) return -1;
  if ((buf[p + 6]! & 0xc0) !== 0x80) return -1;
  const es = p + 9 + buf[p + 8]!;
  return es < o + TS_PACKET_SIZE ? es : -1;
}
