// A short look at a source URL without keeping it: connect, read until it has shown a
// PAT, a PMT and a video keyframe (or, without video in its program, some MPEG-TS), then
// close. Used to decide when a recovered primary may be taken back from a backup; the
// connection lasts at most `timeoutMs`, so a provider that counts connections sees one
// brief extra connection per probe interval, never a second stream held open.
import { PacketAligner, PacketKind, ProgramTracker, TS_PACKET_SIZE } from '../../common/mpegts';
import { openSourceInput } from './source-input';

export interface ProbeResult {
  ok: boolean;
  reason: string | null;
}

// Enough MPEG-TS to call an audio-only program healthy.
const AUDIO_ONLY_BYTES = 64 * 1024;

export async function probeSource(url: string, opts: { ffmpegPath: string; sourceSchemes?: readonly string[]; timeoutMs: number }): Promise<ProbeResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let input: Awaited<ReturnType<typeof openSourceInput>> | null = null;
  let timedOut = false;
  try {
    const opened = openSourceInput(url, { ffmpegPath: opts.ffmpegPath, timeoutMs: opts.timeoutMs, sourceSchemes: opts.sourceSchemes });
    timer = setTimeout(() => {
      timedOut = true;
      input?.close();
    }, opts.timeoutMs);
    input = await opened;
    if (timedOut) return { ok: false, reason: `probe: no MPEG-TS within ${opts.timeoutMs} ms` };
    const reader = input.readable.getReader();
    const aligner = new PacketAligner();
    const tracker = new ProgramTracker();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const span of aligner.push(value)) {
        bytes += span.length;
        for (let o = 0; o + TS_PACKET_SIZE <= span.length; o += TS_PACKET_SIZE) {
          if (tracker.inspect(span, o) === PacketKind.Keyframe) return { ok: true, reason: null };
        }
        if (tracker.pmt && tracker.videoPid < 0 && bytes >= AUDIO_ONLY_BYTES) return { ok: true, reason: null };
      }
    }
    return { ok: false, reason: timedOut ? `probe: no video keyframe within ${opts.timeoutMs} ms` : `probe: ended before a keyframe (${input.describeFailure()})` };
  } catch (err) {
    return { ok: false, reason: `probe: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
    input?.close();
  }
}
