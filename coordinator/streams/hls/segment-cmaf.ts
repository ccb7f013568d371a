// The bytes served for one retained segment, made once however many viewers and formats
// ask: the MPEG-TS segment itself, its fMP4 forms (muxed for HLS, one track each for
// DASH) from one remux, and the timing of those fragments (DASH manifests list them).
//
// One Blob per segment and kind, made on first request: every response shares its bytes
// (a Uint8Array body is copied per response: 2,000 viewers of a 250 KB segment held
// ~300 MB more RSS), and a segment is remuxed once however many viewers fetch it, whether
// by HLS fMP4 (.m4s), DASH (.video.m4s, .audio.m4s) or a DASH manifest that lists it.
// Keyed weakly by the segment: it goes when the live window drops the segment.
import { remuxToCmafTracks, type CmafAudioTrack, type CmafVideoTrack } from './fmp4/cmaf-muxer';
import type { TsSegment } from './ts-segmenter';

/** What a segment URL names: the MPEG-TS segment, an fMP4 fragment or init segment, muxed or one track. */
export type SegmentKind = 'ts' | 'm4s' | 'init.mp4' | 'video.m4s' | 'video.init.mp4' | 'audio.m4s' | 'audio.init.mp4';

export const CONTENT_TYPES: Record<SegmentKind, string> = {
  ts: 'video/mp2t',
  m4s: 'video/iso.segment',
  'init.mp4': 'video/mp4',
  'video.m4s': 'video/iso.segment',
  'video.init.mp4': 'video/mp4',
  'audio.m4s': 'audio/iso.segment',
  'audio.init.mp4': 'audio/mp4',
};

/** A fragment's facts without its bytes. */
export type TrackFacts<T> = Omit<T, 'init' | 'fragment'>;

export interface CmafFacts {
  /** Codecs of the muxed form (video,audio). */
  codecs: string;
  video: TrackFacts<CmafVideoTrack> | null;
  audio: TrackFacts<CmafAudioTrack> | null;
}

interface Entry {
  ts?: Blob;
  /** undefined: not remuxed yet; null: cannot be carried in fMP4. */
  cmaf?: { blobs: Partial<Record<SegmentKind, Blob>>; facts: CmafFacts } | null;
}

const entries = new WeakMap<TsSegment, Entry>();

function entryOf(segment: TsSegment): Entry {
  let entry = entries.get(segment);
  if (!entry) entries.set(segment, (entry = {}));
  return entry;
}

function remuxed(segment: TsSegment): Entry['cmaf'] {
  const entry = entryOf(segment);
  if (entry.cmaf !== undefined) return entry.cmaf;
  const cmaf = remuxToCmafTracks(segment.data, segment.index + 1);
  if (!cmaf) return (entry.cmaf = null);
  const blob = (bytes: Uint8Array, type: string) => new Blob([bytes as Uint8Array<ArrayBuffer>], { type });
  const blobs: Partial<Record<SegmentKind, Blob>> = {
    'init.mp4': blob(cmaf.muxed.init, CONTENT_TYPES['init.mp4']),
    m4s: blob(cmaf.muxed.fragment, CONTENT_TYPES.m4s),
  };
  const facts: CmafFacts = { codecs: cmaf.muxed.codecs, video: null, audio: null };
  if (cmaf.video) {
    const { init, fragment, ...rest } = cmaf.video;
    blobs['video.init.mp4'] = blob(init, CONTENT_TYPES['video.init.mp4']);
    blobs['video.m4s'] = blob(fragment, CONTENT_TYPES['video.m4s']);
    facts.video = rest;
  }
  if (cmaf.audio) {
    const { init, fragment, ...rest } = cmaf.audio;
    blobs['audio.init.mp4'] = blob(init, CONTENT_TYPES['audio.init.mp4']);
    blobs['audio.m4s'] = blob(fragment, CONTENT_TYPES['audio.m4s']);
    facts.audio = rest;
  }
  return (entry.cmaf = { blobs, facts });
}

/** The bytes for `kind`, or null when the segment cannot be carried that way (no fMP4, no such track). */
export function segmentBlob(segment: TsSegment, kind: SegmentKind): Blob | null {
  if (kind === 'ts') {
    const entry = entryOf(segment);
    return (entry.ts ??= new Blob([segment.data], { type: CONTENT_TYPES.ts }));
  }
  return remuxed(segment)?.blobs[kind] ?? null;
}

/** Timing and codecs of the segment's fMP4 fragments (remuxing it now if no one has yet), or null. */
export function cmafFacts(segment: TsSegment): CmafFacts | null {
  return remuxed(segment)?.facts ?? null;
}
