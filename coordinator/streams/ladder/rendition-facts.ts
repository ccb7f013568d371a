// What a running rendition really is, read from its retained HLS segments: bits per
// second (peak and mean over the segments, which is what BANDWIDTH and AVERAGE-BANDWIDTH
// mean, RFC 8216bis 4.4.6.2), and from the newest segment the codec string, picture size,
// frame rate and audio channels the encoders wrote (its SPS and the video decode times). Pure; the bytes
// come from a worker, so anything malformed yields nulls, never a throw.
import { tracksOf } from '../hls/fmp4/cmaf-muxer';
import { demuxSegment } from '../hls/fmp4/es-demux';
import type { RenditionFacts } from './multivariant-playlist';

export interface MeasuredSegment {
  data: Uint8Array;
  /** Seconds. */
  duration: number;
}

const PTS_HZ = 90_000;

/** Facts from segments oldest first; null when none has a usable duration. */
export function measureRendition(segments: readonly MeasuredSegment[]): RenditionFacts | null {
  const timed = segments.filter((s) => s.duration > 0);
  const newest = timed.at(-1);
  if (!newest) return null;
  let peakBps = 0;
  let bits = 0;
  let seconds = 0;
  for (const s of timed) {
    peakBps = Math.max(peakBps, (s.data.length * 8) / s.duration);
    bits += s.data.length * 8;
    seconds += s.duration;
  }
  return { peakBps, averageBps: bits / seconds, ...streamFacts(newest.data) };
}

function streamFacts(ts: Uint8Array): Pick<RenditionFacts, 'codecs' | 'width' | 'height' | 'frameRate' | 'audioChannels'> {
  try {
    const streams = demuxSegment(ts);
    const tracks = tracksOf(streams);
    const video = tracks?.video ?? null;
    const audio = tracks?.audio ? `mp4a.40.${tracks.audio.objectType}` : null;
    const codecs = video ? [video.codecString, audio].filter(Boolean).join(',') : null;
    return { codecs, width: video?.width ?? null, height: video?.height ?? null, frameRate: frameRateOf(streams.video.map((f) => f.dts)), audioChannels: tracks?.audio?.channels ?? null };
  } catch {
    return { codecs: null, width: null, height: null, frameRate: null, audioChannels: null };
  }
}

/** Frames per second from decode times (90 kHz), to 3 decimals; null under two frames. */
export function frameRateOf(dts: readonly number[]): number | null {
  if (dts.length < 2) return null;
  const span = dts.at(-1)! - dts[0]!;
  if (span <= 0) return null;
  return Math.round((((dts.length - 1) * PTS_HZ) / span) * 1000) / 1000;
}
