// Which format a client gets on the plain stream URL. Existing players (VLC, mpv,
// ffplay, Jellyfin, TiviMate, curl) send no hint and keep continuous MPEG-TS; Apple's
// media stack (AppleCoreMedia, Safari, any iOS browser, which all use it) cannot play
// raw MPEG-TS over HTTP and gets HLS. `?format=` always wins: `hls`, `hls-fmp4` and
// `dash` redirect to the playlist or manifest. DASH players are never guessed from a user
// agent (dash.js runs in any browser, which also plays HLS through hls.js or natively).
import { codecFitsContainer } from '../../../common/transcode-rules.ts';

export type StreamFormat = 'ts' | 'hls' | 'hls-fmp4' | 'dash';
export const STREAM_FORMATS: readonly StreamFormat[] = ['ts', 'hls', 'hls-fmp4', 'dash'];

/** The `format` query value: a format, null when absent, or an error message. */
export function parseFormat(value: string | null): StreamFormat | null | { error: string } {
  if (value === null) return null;
  if ((STREAM_FORMATS as readonly string[]).includes(value)) return value as StreamFormat;
  return { error: `format must be one of ${STREAM_FORMATS.join(', ')} (got ${JSON.stringify(value.slice(0, 32))})` };
}

/** Apple players: CoreMedia (AVPlayer, Apple TV, iOS apps), Safari on macOS, and every iOS browser. */
export function isApplePlayer(userAgent: string | null): boolean {
  if (!userAgent) return false;
  if (userAgent.includes('AppleCoreMedia')) return true;
  if (/\b(iPhone|iPad|iPod)\b/.test(userAgent)) return true;
  return /\bVersion\/[\d.]+.*\bSafari\//.test(userAgent) && !/\b(Chrome|Chromium|CriOS|Edg|OPR|Android)\//.test(userAgent);
}

/**
 * Video codecs HLS players decode in MPEG-TS segments, on top of what MPEG-TS carries at
 * all (common/transcode-rules.ts): RFC 8216 and Apple's HLS authoring spec name H.264 and
 * HEVC, and hls.js plays the same. MPEG-2 video fits MPEG-TS for VLC or a tuner app, but
 * no HLS client decodes it.
 */
const HLS_TS_VIDEO = new Set(['h264', 'hevc']);

/** Whether a profile's video codec can go out as HLS; 'copy' is decided on the real stream. */
export function hlsAcceptsProfileCodec(videoCodec: string): boolean {
  return videoCodec === 'copy' || hlsAcceptsStreamCodec(videoCodec);
}

/** Whether HLS clients can decode this stream's video (codec from the PMT). */
export function hlsAcceptsStreamCodec(videoCodec: string | null): boolean {
  return videoCodec !== null && codecFitsContainer(videoCodec, 'mpegts') && HLS_TS_VIDEO.has(videoCodec);
}

/**
 * The format for a request to the plain stream URL. Apple players get HLS only when
 * the profile's codec fits it; otherwise they keep MPEG-TS (never something no player
 * of theirs would decode as HLS either).
 */
export function chooseFormat(requested: StreamFormat | null, userAgent: string | null, profileVideoCodec: string): StreamFormat {
  if (requested) return requested;
  return isApplePlayer(userAgent) && hlsAcceptsProfileCodec(profileVideoCodec) ? 'hls' : 'ts';
}
