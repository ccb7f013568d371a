// Follows one video PID's sequence parameters for ProgramWatch: in the first packet of
// each PES it finds the Annex-B parameter sets (H.264 SPS; HEVC VPS and SPS; the MPEG-2
// sequence header) and compares them with bounded copies of the last ones.
//
// A parameter set may be cut by the packet end (or by the copy bound), and the same SPS
// can be cut at different places in different PES (the PES header and access unit
// delimiter vary), so a cut copy matches any NAL it is a prefix of, and the longer copy
// replaces it. Parsing happens only when the bytes changed: once per change, not per PES.
import { parseH264Sps, parseHevcSps, parseMpeg2SequenceHeader, type VideoFormat } from './es-headers.ts';

/** Bytes kept per parameter set: an SPS is rarely longer; past this it counts as cut. */
export const MAX_PARAM_SET_BYTES = 256;

type Syntax = 'h264' | 'hevc' | 'mpeg2';

const SYNTAX_OF: ReadonlyMap<string, Syntax> = new Map([
  ['h264', 'h264'],
  ['h264-svc', 'h264'],
  ['h264-mvc', 'h264'],
  ['hevc', 'hevc'],
  ['mpeg1video', 'mpeg2'],
  ['mpeg2video', 'mpeg2'],
]);

/** What one scan found that the caller must act on (null from scan(): nothing). */
export interface ParameterSetNews {
  /** The parameters differ from the baseline (false: a first baseline or a longer copy). */
  changed: boolean;
  /** The parsed sequence parameters, when the SPS / sequence header was (re)read. */
  format: VideoFormat | null;
  /** Which parameter set it was, for the change's description. */
  name: string;
}

class ParamSetCopy {
  readonly bytes = new Uint8Array(MAX_PARAM_SET_BYTES);
  length = 0;
  cut = false;
  known = false;

  clear(): void {
    this.known = false;
    this.length = 0;
    this.cut = false;
  }

  /** 0: same, 1: same but the new one is longer (replace quietly), 2: different. */
  compare(buf: Uint8Array, start: number, end: number, cut: boolean): 0 | 1 | 2 {
    const n = Math.min(end - start, MAX_PARAM_SET_BYTES);
    const newCut = cut || end - start > MAX_PARAM_SET_BYTES;
    // Only a cut copy may be shorter than the one it is compared with.
    if ((n < this.length && !newCut) || (this.length < n && !this.cut)) return 2;
    const common = Math.min(n, this.length);
    for (let i = 0; i < common; i++) if (this.bytes[i] !== buf[start + i]) return 2;
    return n > this.length ? 1 : 0;
  }

  store(buf: Uint8Array, start: number, end: number, cut: boolean): void {
    const n = Math.min(end - start, MAX_PARAM_SET_BYTES);
    this.bytes.set(buf.subarray(start, start + n));
    this.length = n;
    this.cut = cut || end - start > MAX_PARAM_SET_BYTES;
    this.known = true;
  }
}

export class VideoParameters {
  /** Video PID followed, -1 = none. */
  pid = -1;
  private syntax: Syntax | null = null;
  private readonly sps = new ParamSetCopy();
  private readonly vps = new ParamSetCopy();

  /** A newly accepted PMT: the next parameter sets are a baseline, not a change. */
  follow(pid: number, codec: string | null): void {
    this.pid = pid;
    this.syntax = codec === null ? null : (SYNTAX_OF.get(codec) ?? null);
    this.sps.clear();
    this.vps.clear();
  }

  /** Scans the elementary-stream bytes buf[from, end) of a PES's first packet. */
  scan(buf: Uint8Array, from: number, end: number): ParameterSetNews | null {
    const syntax = this.syntax;
    if (syntax === null) return null;
    let news: ParameterSetNews | null = null;
    for (let s = findStartCode(buf, from, end); s >= 0; ) {
      const nal = s + 3;
      if (nal >= end) break;
      const next = findStartCode(buf, nal, end);
      let nalEnd = next < 0 ? end : next;
      // A complete NAL ends before trailing zeros (and a 4-byte start code's first zero).
      if (next >= 0) while (nalEnd > nal && buf[nalEnd - 1] === 0) nalEnd--;
      const cut = next < 0;
      if (syntax === 'h264') {
        const type = buf[nal]! & 0x1f;
        if (type === 7) news = merge(news, this.take(this.sps, buf, nal, nalEnd, cut, 'SPS', parseH264Sps));
        else if (type >= 1 && type <= 5) break; // slices: parameter sets come before them
      } else if (syntax === 'hevc') {
        const type = (buf[nal]! >> 1) & 0x3f;
        if (type === 33) news = merge(news, this.take(this.sps, buf, nal, nalEnd, cut, 'SPS', parseHevcSps));
        else if (type === 32) news = merge(news, this.take(this.vps, buf, nal, nalEnd, cut, 'VPS', null));
        else if (type < 32) break;
      } else {
        const code = buf[nal]!;
        // Size, aspect ratio and frame rate: the 4 bytes after the sequence header code.
        const fieldsEnd = Math.min(nal + 5, end);
        if (code === 0xb3) news = merge(news, this.take(this.sps, buf, nal + 1, fieldsEnd, nal + 5 > end, 'sequence header', readSequenceHeader));
        else if (code === 0x00) break; // picture start
      }
      s = next;
    }
    return news;
  }

  private take(
    copy: ParamSetCopy,
    buf: Uint8Array,
    start: number,
    end: number,
    cut: boolean,
    name: string,
    parse: ((bytes: Uint8Array, length: number) => VideoFormat) | null,
  ): ParameterSetNews | null {
    if (end <= start) return null;
    const verdict = copy.known ? copy.compare(buf, start, end, cut) : 1;
    if (verdict === 0) return null;
    const changed = copy.known && verdict === 2;
    copy.store(buf, start, end, cut);
    return { changed, format: parse ? parse(copy.bytes, copy.length) : null, name };
  }
}

const readSequenceHeader = (bytes: Uint8Array): VideoFormat => parseMpeg2SequenceHeader(bytes, 0);

/** Parameter sets of one packet make one piece of news (a VPS change goes with the SPS one). */
function merge(a: ParameterSetNews | null, b: ParameterSetNews | null): ParameterSetNews | null {
  if (!a || !b) return a ?? b;
  const kept = b.format ? b : a;
  kept.changed = a.changed || b.changed;
  return kept;
}

/** Index of the next 00 00 01 at or after `from` (whole code before `end`), or -1. */
function findStartCode(buf: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 2 < end; i++) {
    const b2 = buf[i + 2]!;
    if (b2 > 1) {
      i += 2; // no start code can begin at i, i+1 or i+2
      continue;
    }
    if (buf[i + 1] !== 0) {
      i += 1;
      continue;
    }
    if (b2 === 1 && buf[i] === 0) return i;
  }
  return -1;
}

/** Detail of a 'video' change: the sizes when both are known, else what changed. */
export function describeVideoChange(before: VideoFormat, after: VideoFormat, name: string): string {
  const sized = before.width > 0 && after.width > 0;
  if (sized && (before.width !== after.width || before.height !== after.height)) {
    return `video ${before.width}x${before.height} -> ${after.width}x${after.height}`;
  }
  if (before.profile > 0 && after.profile > 0 && before.profile !== after.profile) {
    return `video profile ${before.profile} -> ${after.profile}`;
  }
  return sized ? `video ${name} changed (${after.width}x${after.height})` : `video ${name} changed`;
}
