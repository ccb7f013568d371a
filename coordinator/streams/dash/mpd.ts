// A live DASH manifest (MPEG-DASH, ISO/IEC 23009-1, isoff-live profile over CMAF
// fragments) from plain data: what the periods are, which representations each one has,
// and each representation's segments as a SegmentTimeline. Pure: no clock, no I/O; the
// route (coordinator/http/routes/dash-routes.ts) gathers the facts from the live window.
//
// Choices, for dash.js and for any other DASH player:
// - type="dynamic" with a SegmentTimeline whose S@t are the fragments' own earliest
//   presentation times (tfdt + the first sample's composition offset), so the timeline
//   and the media agree exactly, and a player's live edge is the last listed segment
//   rather than a guess from the wall clock; segments are still addressed by $Number$
//   (the HLS media sequence number, the same files).
// - Video and audio in separate AdaptationSets, each from its own fragment of the same
//   remux: dash.js refuses multiplexed representations.
// - One Period per stretch without a discontinuity: a new Period (with its own init
//   segment) where the timeline broke or the parameter sets changed.

export interface TimelineEntry {
  /** Earliest presentation time, in the representation's timescale. */
  t: number;
  /** Duration, in the same timescale. */
  d: number;
}

export interface SegmentTemplateInput {
  timescale: number;
  /** Media time (in timescale) at the Period's start. */
  presentationTimeOffset: number;
  /** Relative URL of the init segment. */
  initialization: string;
  /** Relative URL with $Number$. */
  media: string;
  startNumber: number;
  timeline: readonly TimelineEntry[];
}

export interface RepresentationInput {
  id: string;
  codecs: string;
  /** Bits per second. */
  bandwidth: number;
  width?: number;
  height?: number;
  /** "25", "30000/1001". */
  frameRate?: string;
  audioSamplingRate?: number;
  template: SegmentTemplateInput;
}

export interface AdaptationSetInput {
  id: number;
  contentType: 'video' | 'audio';
  mimeType: 'video/mp4' | 'audio/mp4';
  /** Audio channel count (AudioChannelConfiguration). */
  channels?: number;
  representations: readonly RepresentationInput[];
}

export interface PeriodInput {
  id: string;
  /** Seconds from availabilityStartTime. */
  start: number;
  adaptationSets: readonly AdaptationSetInput[];
}

export interface MpdInput {
  /** Wall-clock ms of presentation time 0. */
  availabilityStartTime: number;
  /** Wall-clock ms when this version of the manifest was made (its newest segment). */
  publishTime: number;
  /** The server's clock now (ms), for players to sync theirs (UTCTiming direct). */
  now: number;
  minimumUpdatePeriod: number;
  timeShiftBufferDepth: number;
  suggestedPresentationDelay: number;
  maxSegmentDuration: number;
  minBufferTime: number;
  periods: readonly PeriodInput[];
}

export const DASH_PROFILE = 'urn:mpeg:dash:profile:isoff-live:2011';

/** xs:duration of seconds, to the millisecond: PT2S, PT1.92S. */
export function isoDuration(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  return `PT${ms % 1000 === 0 ? ms / 1000 : (ms / 1000).toFixed(3).replace(/0+$/, '')}S`;
}

/** xs:dateTime in UTC with milliseconds. */
export function isoDateTime(ms: number): string {
  return new Date(ms).toISOString();
}

function attr(value: string | number): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

function attrs(pairs: Record<string, string | number | undefined>): string {
  return Object.entries(pairs)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => ` ${k}="${attr(v!)}"`)
    .join('');
}

/**
 * S elements: t written where an entry does not follow on from the one before (the first,
 * or after a gap), r for runs of equal durations that follow on.
 */
export function renderTimeline(entries: readonly TimelineEntry[]): string[] {
  const rows: { t: number | null; d: number; r: number }[] = [];
  let end: number | null = null;
  for (const e of entries) {
    const last = rows.at(-1);
    const follows = end !== null && e.t === end;
    if (last && follows && last.d === e.d) last.r++;
    else rows.push({ t: follows ? null : e.t, d: e.d, r: 0 });
    end = e.t + e.d;
  }
  return rows.map((s) => `<S${attrs({ t: s.t ?? undefined, d: s.d, r: s.r > 0 ? s.r : undefined })}/>`);
}

function representation(r: RepresentationInput, indent: string): string[] {
  const tpl = r.template;
  return [
    `${indent}<Representation${attrs({ id: r.id, codecs: r.codecs, bandwidth: Math.round(r.bandwidth), width: r.width, height: r.height, frameRate: r.frameRate, audioSamplingRate: r.audioSamplingRate })}>`,
    `${indent}  <SegmentTemplate${attrs({
      timescale: tpl.timescale,
      presentationTimeOffset: tpl.presentationTimeOffset,
      initialization: tpl.initialization,
      media: tpl.media,
      startNumber: tpl.startNumber,
    })}>`,
    `${indent}    <SegmentTimeline>`,
    ...renderTimeline(tpl.timeline).map((s) => `${indent}      ${s}`),
    `${indent}    </SegmentTimeline>`,
    `${indent}  </SegmentTemplate>`,
    `${indent}</Representation>`,
  ];
}

function adaptationSet(a: AdaptationSetInput): string[] {
  const head = `    <AdaptationSet${attrs({
    id: a.id,
    contentType: a.contentType,
    mimeType: a.mimeType,
    segmentAlignment: 'true',
    startWithSAP: 1,
    lang: a.contentType === 'audio' ? 'und' : undefined,
  })}>`;
  const lines = [head];
  if (a.channels) lines.push(`      <AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011" value="${a.channels}"/>`);
  for (const r of a.representations) lines.push(...representation(r, '      '));
  lines.push('    </AdaptationSet>');
  return lines;
}

/** The manifest, as XML text. */
export function renderMpd(mpd: MpdInput): string {
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<MPD${attrs({
      xmlns: 'urn:mpeg:dash:schema:mpd:2011',
      profiles: DASH_PROFILE,
      type: 'dynamic',
      availabilityStartTime: isoDateTime(mpd.availabilityStartTime),
      publishTime: isoDateTime(mpd.publishTime),
      minimumUpdatePeriod: isoDuration(mpd.minimumUpdatePeriod),
      timeShiftBufferDepth: isoDuration(mpd.timeShiftBufferDepth),
      suggestedPresentationDelay: isoDuration(mpd.suggestedPresentationDelay),
      maxSegmentDuration: isoDuration(mpd.maxSegmentDuration),
      minBufferTime: isoDuration(mpd.minBufferTime),
    })}>`,
  ];
  for (const p of mpd.periods) {
    lines.push(`  <Period${attrs({ id: p.id, start: isoDuration(p.start) })}>`);
    for (const a of p.adaptationSets) if (a.representations.length > 0) lines.push(...adaptationSet(a));
    lines.push('  </Period>');
  }
  lines.push(`  <UTCTiming schemeIdUri="urn:mpeg:dash:utc:direct:2014" value="${isoDateTime(mpd.now)}"/>`, '</MPD>');
  return lines.join('\n') + '\n';
}

/** A frame rate for @frameRate from `frames` over `ticks` of 90 kHz: integer, or N*1000/1001 for the NTSC rates. */
export function frameRateString(frames: number, ticks: number): string | undefined {
  if (frames < 2 || ticks <= 0) return undefined;
  const fps = (frames * 90_000) / ticks;
  const whole = Math.round(fps);
  if (Math.abs(fps - whole) < 0.0005 * whole) return String(whole);
  const ntsc = Math.round((fps * 1001) / 1000);
  if (Math.abs(fps - (ntsc * 1000) / 1001) < 0.0005 * ntsc) return `${ntsc * 1000}/1001`;
  return fps.toFixed(3);
}
