// Cuts a ladder job's output (proto TranscodeSpec.renditions: one MPEG-TS program per
// rendition, program_number i + 1, the audio shared by every program) into one
// single-program MPEG-TS per rendition, laid out as a one-output job's: PAT with program 1,
// PMT on PID 0x1000, video on 0x100, audio on 0x101 (then 0x102, ...). A rendition's
// stream therefore looks the same whether a ladder job or a job of its own made it, so a
// failover between the two (a ladder job's worker died and no other can take the whole
// ladder) is an ordinary splice, and every downstream part (HLS segmenter, CMAF remux,
// MPEG-TS clients) sees the stream it always sees.
//
// Packets are copied once (the PID is rewritten in the copy; the shared audio goes to
// every rendition, each its own copy, since each rendition's buffer owns its bytes). A
// rendition's continuity counters are the job's own: every packet of a PID reaches it.
// PSI: only sections that fit one packet (every PAT and PMT FFmpeg writes); a PMT that
// does not parse is dropped with the packet, and its rendition keeps the last good one.
import { TS_PACKET_SIZE } from '../../../common/mpegts/constants';
import { isPayloadUnitStart, isRandomAccess, readPid } from '../../../common/mpegts/packet-header';
import { locateSection, parsePat, parsePmt, writeSectionCrc } from '../../../common/mpegts/psi';

/** The PIDs of a one-output job's stream (FFmpeg's defaults), which every rendition gets. */
export const OUT_PMT_PID = 0x1000;
export const OUT_FIRST_ES_PID = 0x100;
const PAT_PID = 0;

interface ProgramMap {
  /** The job's PMT PID of this program, -1 until the PAT names it. */
  pmtPid: number;
  /** Job PID -> this rendition's PID, from its PMT. */
  pids: Map<number, number>;
  /** Job PID of its video (keyframes are looked for there), -1 until the PMT is read. */
  videoPid: number;
  /** The last PAT and PMT packets as this rendition gets them, for a rendition joining late. */
  pat: Uint8Array | null;
  pmt: Uint8Array | null;
  /** Someone reads this rendition (startAtKeyframe, until drop): unread ones are not copied. */
  wanted: boolean;
  /** Holding its output until its video's next keyframe (joined mid-stream). */
  waiting: boolean;
  /** Packets of this rendition in the chunk being cut (reused arrays). */
  picked: number[];
}

export class ProgramSplitter {
  private readonly programs: ProgramMap[];
  /** Job PID -> indexes of the renditions that carry it (the audio: all of them). */
  private readonly routes = new Map<number, number[]>();
  private carry: Uint8Array | null = null;
  /** PSI packets that did not parse (a section over one packet, a bad CRC). */
  droppedPsi = 0;

  constructor(readonly renditions: number) {
    this.programs = Array.from({ length: renditions }, () => ({ pmtPid: -1, pids: new Map(), videoPid: -1, pat: null, pmt: null, wanted: false, waiting: true, picked: [] }));
  }

  /**
   * Rendition `i` (re)starts: its next output begins with the PAT and PMT and its video's
   * next keyframe, so a buffer that starts reading it mid-job gets a decodable stream.
   */
  startAtKeyframe(i: number): void {
    const p = this.programs[i]!;
    p.wanted = true;
    p.waiting = true;
  }

  /** Nobody reads rendition `i` any more: its packets are skipped (its PSI is still tracked). */
  drop(i: number): void {
    this.programs[i]!.wanted = false;
  }

  /** Cuts one chunk of job output; out[i] is rendition i's bytes (empty when none). */
  push(chunk: Uint8Array): Uint8Array[] {
    let buf = chunk;
    if (this.carry) {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
      this.carry = null;
    }
    const whole = buf.length - (buf.length % TS_PACKET_SIZE);
    if (whole < buf.length) this.carry = buf.slice(whole);
    for (const p of this.programs) p.picked.length = 0;
    for (let at = 0; at < whole; at += TS_PACKET_SIZE) {
      if (buf[at] !== 0x47) continue; // the job sends whole packets; a lost sync byte is skipped
      const pid = readPid(buf, at);
      if (pid === PAT_PID) {
        this.readPat(buf, at);
        for (const [i, p] of this.programs.entries()) if (p.pat) this.pick(i, at);
        continue;
      }
      const program = this.programs.findIndex((p) => p.pmtPid === pid);
      if (program >= 0) {
        if (this.readPmt(program, buf, at)) this.pick(program, at);
        continue;
      }
      const to = this.routes.get(pid);
      if (!to) continue; // SDT, null packets, anything no program lists
      for (const i of to) {
        const p = this.programs[i]!;
        if (!p.wanted) continue;
        if (p.waiting) {
          if (pid !== p.videoPid || !isPayloadUnitStart(buf, at) || !isRandomAccess(buf, at) || !p.pat || !p.pmt) continue;
          p.waiting = false;
          p.picked.push(-1, -2); // its PAT and PMT first
        }
        p.picked.push(at);
      }
    }
    return this.programs.map((p) => this.assemble(p, buf));
  }

  private pick(i: number, at: number): void {
    const p = this.programs[i]!;
    if (p.wanted && !p.waiting) p.picked.push(at);
  }

  private assemble(p: ProgramMap, buf: Uint8Array): Uint8Array {
    const out = new Uint8Array(p.picked.length * TS_PACKET_SIZE);
    let o = 0;
    for (const at of p.picked) {
      if (at === -1) out.set(p.pat!, o);
      else if (at === -2) out.set(p.pmt!, o);
      else {
        const pid = readPid(buf, at);
        out.set(buf.subarray(at, at + TS_PACKET_SIZE), o);
        // PSI as this rendition has it, under the job packet's continuity counter.
        const psi = pid === PAT_PID ? p.pat : pid === p.pmtPid ? p.pmt : null;
        if (psi) {
          out.set(psi.subarray(4), o + 4);
          out[o + 3] = (out[o + 3]! & 0xc0) | (psi[3]! & 0x30) | (out[o + 3]! & 0x0f);
        }
        const to = pid === PAT_PID ? PAT_PID : pid === p.pmtPid ? OUT_PMT_PID : (p.pids.get(pid) ?? pid);
        out[o + 1] = (out[o + 1]! & 0xe0) | (to >> 8);
        out[o + 2] = to & 0xff;
      }
      o += TS_PACKET_SIZE;
    }
    return out;
  }

  /** Learns each program's PMT PID; every rendition gets a PAT naming only program 1 on OUT_PMT_PID. */
  private readPat(buf: Uint8Array, at: number): void {
    const pat = parsePat(buf, at);
    if (!pat) {
      this.droppedPsi++;
      return;
    }
    for (const [i, p] of this.programs.entries()) {
      const entry = pat.programs.find((e) => e.programNumber === i + 1);
      if (!entry) continue;
      if (entry.pmtPid !== p.pmtPid) {
        p.pmtPid = entry.pmtPid;
        p.pmt = null;
      }
      p.pat ??= onePat(pat.transportStreamId, pat.version, buf[at + 3]!);
    }
  }

  /** Reads program i's PMT and keeps it as rendition i gets it: program 1, its PIDs mapped. */
  private readPmt(i: number, buf: Uint8Array, at: number): boolean {
    const pmt = parsePmt(buf, at);
    const section = pmt ? locateSection(buf, at, 0x02) : null;
    if (!pmt || !section) {
      this.droppedPsi++;
      return false;
    }
    const p = this.programs[i]!;
    // Rendition PIDs in PMT order from 0x100: the video first as FFmpeg lists it, then audio.
    const pids = new Map<number, number>();
    pmt.streams.forEach((s, k) => pids.set(s.pid, OUT_FIRST_ES_PID + k));
    const changed = p.pids.size !== pids.size || [...pids].some(([from, to]) => p.pids.get(from) !== to);
    if (changed || !p.pmt) {
      for (const from of p.pids.keys()) this.unroute(from, i);
      p.pids = pids;
      p.videoPid = pmt.videoPid;
      for (const from of pids.keys()) this.route(from, i);
    }
    // The rewritten packet: same bytes with program_number 1, PCR and ES PIDs mapped, new CRC.
    const copy = buf.slice(at, at + TS_PACKET_SIZE);
    const [start, end] = [section[0] - at, section[1] - at];
    copy[start + 3] = 0;
    copy[start + 4] = 1;
    const pcr = pids.get(pmt.pcrPid) ?? 0x1fff;
    copy[start + 8] = (copy[start + 8]! & 0xe0) | (pcr >> 8);
    copy[start + 9] = pcr & 0xff;
    const programInfoLength = ((copy[start + 10]! & 0x0f) << 8) | copy[start + 11]!;
    for (let q = start + 12 + programInfoLength; q + 5 <= end - 4; ) {
      const from = ((copy[q + 1]! & 0x1f) << 8) | copy[q + 2]!;
      const to = pids.get(from) ?? from;
      copy[q + 1] = (copy[q + 1]! & 0xe0) | (to >> 8);
      copy[q + 2] = to & 0xff;
      q += 5 + (((copy[q + 3]! & 0x0f) << 8) | copy[q + 4]!);
    }
    writeSectionCrc(copy, start, end);
    copy[1] = (copy[1]! & 0xe0) | (OUT_PMT_PID >> 8);
    copy[2] = OUT_PMT_PID & 0xff;
    p.pmt = copy;
    return true;
  }

  private route(pid: number, i: number): void {
    const to = this.routes.get(pid) ?? [];
    if (!to.includes(i)) to.push(i);
    this.routes.set(pid, to);
  }

  private unroute(pid: number, i: number): void {
    const to = this.routes.get(pid)?.filter((x) => x !== i) ?? [];
    if (to.length) this.routes.set(pid, to);
    else this.routes.delete(pid);
  }
}

/** A PAT packet with one program (1 on OUT_PMT_PID); `ccByte` is byte 3 of the job's PAT packet. */
function onePat(transportStreamId: number, version: number, ccByte: number): Uint8Array {
  const pkt = new Uint8Array(TS_PACKET_SIZE).fill(0xff);
  pkt[0] = 0x47;
  pkt[1] = 0x40; // payload unit start, PID 0
  pkt[2] = 0x00;
  pkt[3] = (ccByte & 0x0f) | 0x10; // payload only
  pkt[4] = 0; // pointer field
  const s = 5;
  const sectionLength = 5 + 4 + 4; // header after the length, one program, CRC
  pkt[s] = 0x00; // table_id PAT
  pkt[s + 1] = 0xb0 | (sectionLength >> 8);
  pkt[s + 2] = sectionLength & 0xff;
  pkt[s + 3] = transportStreamId >> 8;
  pkt[s + 4] = transportStreamId & 0xff;
  pkt[s + 5] = 0xc1 | ((version & 0x1f) << 1); // current_next 1
  pkt[s + 6] = 0; // section_number
  pkt[s + 7] = 0; // last_section_number
  pkt[s + 8] = 0x00;
  pkt[s + 9] = 0x01; // program 1
  pkt[s + 10] = 0xe0 | (OUT_PMT_PID >> 8);
  pkt[s + 11] = OUT_PMT_PID & 0xff;
  writeSectionCrc(pkt, s, s + 3 + sectionLength);
  return pkt;
}
