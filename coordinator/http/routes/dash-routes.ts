// DASH manifests beside each variant's HLS playlist, over the same segments:
//   /stream/{source}/{profile}.mpd   live MPD of the variant (via the stream route, as .m3u8 is)
//   /stream/{source}/{ladder}.mpd    one Period, one video AdaptationSet with a
//                                    Representation per rendition (ladder-stream.ts calls
//                                    answerLadderMpd)
// and ?format=dash on the plain stream URL redirects to the .mpd (hls-routes.ts).
//
// No second remux: a manifest lists the live window's segments as the fMP4 fragments the
// HLS fMP4 playlist uses, each track on its own (/stream/{source}/{profile}/{epoch}-{n}
// .video.m4s and .audio.m4s, from the same one remux per segment, segment-cmaf.ts),
// with the fragments' own times in a SegmentTimeline. The init segment of each Period is
// named by its first segment ({epoch}-{n}.video.init.mp4) and stays served as long as any
// segment of the Period is. CORS `*` and caching as for the playlists (half a target
// duration), content type application/dash+xml.
import { getProfile } from '../../catalog/catalog-store';
import { getLadder, type LadderRow } from '../../catalog/ladder-store';
import type { CoreContext } from '../../context';
import type { PlannedPeriod, TimedSegment } from '../../streams/dash/dash-timeline';
import { frameRateString, renderMpd, type AdaptationSetInput, type MpdInput, type RepresentationInput, type TimelineEntry } from '../../streams/dash/mpd';
import type { HlsService } from '../../streams/hls/hls-service';
import type { HlsVariant } from '../../streams/hls/hls-variant';
import { hlsAcceptsStreamCodec } from '../../streams/hls/negotiate';
import { timestampDelta } from '../../streams/hls/pes-timestamp';
import { cmafFacts, segmentBlob, type CmafFacts } from '../../streams/hls/segment-cmaf';
import type { TsSegment } from '../../streams/hls/ts-segmenter';
import { jsonError, manifestMaxAge, viewerKey, type ClientInfo } from './stream-viewer';

export const MANIFEST_SUFFIX = '.mpd';
const AAC_STREAM_TYPE = 0x0f;
const HZ = 90_000;
/** A player stays this many target durations behind the newest segment, as HLS players do. */
const PRESENTATION_DELAY_TARGETS = 3;

/** One live variant's listed segments with their fMP4 timing, oldest first. */
interface RenditionView {
  profileId: string;
  variant: HlsVariant;
  segments: { segment: TsSegment; facts: CmafFacts; timed: TimedSegment }[];
}

function notAcceptable(message: string): Response {
  return jsonError(406, 'not_acceptable', message);
}

/**
 * The listed segments of a live variant that fMP4 carries, with their timing; a reason
 * instead when DASH cannot carry the variant (MPEG-2 video, non-AAC audio).
 */
function viewOf(profileId: string, variant: HlsVariant): RenditionView | string {
  const latest = variant.latest!;
  if (!hlsAcceptsStreamCodec(latest.videoCodec)) return `variant ${variant.key} carries ${latest.videoCodec ?? 'no video'}, which DASH players do not decode; use the MPEG-TS URL`;
  if (latest.audioStreamTypes.some((t) => t !== AAC_STREAM_TYPE)) return `variant ${variant.key} has non-AAC audio, which the fMP4 segments here do not carry; use HLS (format=hls)`;
  const segments: RenditionView['segments'] = [];
  for (const segment of variant.window.listed()) {
    const facts = cmafFacts(segment);
    if (!facts?.video) continue;
    const place = variant.window.placeOf(segment);
    segments.push({ segment, facts, timed: { index: segment.index, periodStart: place.periodStart, arrivedAt: place.arrivedAt, start: facts.video.start, duration: facts.video.duration } });
  }
  if (segments.length === 0) return `variant ${variant.key} has no segment DASH can carry (its video is not H.264 or HEVC with parameter sets)`;
  return { profileId, variant, segments };
}

/** Each entry's duration runs to the next one's start when they follow on, so the timeline has no gaps or overlaps. */
function timeline(entries: { t: number; d: number }[], wrap: number): TimelineEntry[] {
  return entries.map((e, i) => {
    const next = entries[i + 1];
    const gap = next ? (((next.t - e.t) % wrap) + wrap) % wrap : 0;
    return { t: e.t, d: next && gap > 0 && gap <= 2 * e.d ? gap : e.d };
  });
}

/** Peak bits per second of one kind of fragment over the listed segments; 0 when none. */
function peakBps(segments: RenditionView['segments'], kind: 'video.m4s' | 'audio.m4s'): number {
  let peak = 0;
  for (const { segment } of segments) {
    const size = segmentBlob(segment, kind)?.size ?? 0;
    if (segment.duration > 0) peak = Math.max(peak, (size * 8) / segment.duration);
  }
  return peak;
}

function videoRepresentation(view: RenditionView, period: { pto: number; initIndex: number }, fallbackBps: number): RepresentationInput | null {
  const segs = view.segments;
  const first = segs[0];
  if (!first) return null;
  const v = first.facts.video!;
  const newest = segs.at(-1)!.facts.video!;
  const prefix = `${encodeURIComponent(view.profileId)}/${view.variant.window.epoch}-`;
  return {
    id: view.profileId,
    codecs: v.codec,
    bandwidth: peakBps(segs, 'video.m4s') || fallbackBps,
    width: v.width,
    height: v.height,
    frameRate: frameRateString(newest.samples, newest.duration),
    template: {
      timescale: HZ,
      presentationTimeOffset: period.pto,
      initialization: `${prefix}${period.initIndex}.video.init.mp4`,
      media: `${prefix}$Number$.video.m4s`,
      startNumber: first.segment.index,
      timeline: timeline(segs.map((s) => ({ t: s.facts.video!.start, d: s.facts.video!.duration })), 2 ** 33),
    },
  };
}

function audioAdaptationSet(view: RenditionView, period: { pto: number; initIndex: number }, fallbackBps: number): AdaptationSetInput | null {
  const segs = view.segments.filter((s) => s.facts.audio);
  const first = segs[0];
  if (!first) return null;
  const a = first.facts.audio!;
  const prefix = `${encodeURIComponent(view.profileId)}/${view.variant.window.epoch}-`;
  return {
    id: 2,
    contentType: 'audio',
    mimeType: 'audio/mp4',
    channels: a.channels,
    representations: [
      {
        id: 'audio',
        codecs: a.codec,
        bandwidth: peakBps(segs, 'audio.m4s') || fallbackBps,
        audioSamplingRate: a.sampleRate,
        template: {
          timescale: a.sampleRate,
          // The Period's start in the audio track's timescale: the same instant as the video's.
          presentationTimeOffset: Math.round((period.pto * a.sampleRate) / HZ),
          initialization: `${prefix}${period.initIndex}.audio.init.mp4`,
          media: `${prefix}$Number$.audio.m4s`,
          startNumber: first.segment.index,
          timeline: timeline(segs.map((s) => ({ t: s.facts.audio!.start, d: s.facts.audio!.duration })), Math.round((2 ** 33 * a.sampleRate) / HZ)),
        },
      },
    ],
  };
}

/** The MPD attributes every manifest of a window shares. */
function manifest(ctx: CoreContext, variant: HlsVariant, availabilityStartTime: number, periods: MpdInput['periods']): MpdInput {
  const target = variant.window.targetDuration;
  return {
    availabilityStartTime,
    publishTime: variant.window.placeOf(variant.latest!).arrivedAt,
    now: ctx.clock.now(),
    minimumUpdatePeriod: target,
    // The live window: what the playlist lists once full (older segments are 404 soon after).
    timeShiftBufferDepth: variant.window.listedLimit * target,
    suggestedPresentationDelay: PRESENTATION_DELAY_TARGETS * target,
    maxSegmentDuration: target,
    minBufferTime: target,
    periods,
  };
}

function mpdResponse(body: string, targetDuration: number): Response {
  return new Response(body, {
    headers: {
      'content-type': 'application/dash+xml',
      'cache-control': `public, max-age=${manifestMaxAge(targetDuration)}`,
      'access-control-allow-origin': '*',
    },
  });
}

/** Only the segments of one planned period, in a view. */
function within(view: RenditionView, period: PlannedPeriod): RenditionView {
  const keep = new Set(period.segments.map((s) => s.index));
  return { ...view, segments: view.segments.filter((s) => keep.has(s.segment.index)) };
}

/** `/stream/{source}/{profile}.mpd`: the variant's live window, a Period per stretch between discontinuities. */
export async function answerProfileMpd(ctx: CoreContext, hls: HlsService, sourceId: string, profileId: string, client: ClientInfo): Promise<Response> {
  const variant = await hls.liveVariant(sourceId, profileId, viewerKey(client));
  const view = viewOf(profileId, variant);
  if (typeof view === 'string') return notAcceptable(view);
  const profile = await getProfile(ctx.store, profileId);
  const plan = variant.dash.plan(view.segments.map((s) => s.timed));
  const periods = plan.periods.map((p) => {
    const part = within(view, p);
    const video = videoRepresentation(part, p, profile.videoBitrateKbps * 1000 || 1_000_000);
    const audio = audioAdaptationSet(part, p, (profile.audioBitrateKbps || 128) * 1000);
    const sets: AdaptationSetInput[] = [];
    if (video) sets.push({ id: 1, contentType: 'video', mimeType: 'video/mp4', representations: [video] });
    if (audio) sets.push(audio);
    return { id: `${variant.window.epoch}-${p.key}`, start: p.start, adaptationSets: sets };
  });
  return mpdResponse(renderMpd(manifest(ctx, variant, plan.availabilityStartTime, periods)), variant.window.targetDuration);
}

/**
 * `/stream/{source}/{ladder}.mpd`: one Period, one video AdaptationSet with a
 * Representation per rendition that runs (each its own variant, started here as its HLS
 * playlist would be), and the top rendition's audio. The renditions' segments are cut on
 * the source's grid (streams/segment-grid.ts), so segment n starts at the same frame in
 * each; the Period and its timeline origin are the top live rendition's latest Period,
 * and each rendition lists its segments from there on, of its own latest Period (a
 * rendition's discontinuity, e.g. another encoder after a failover, drops its older
 * segments, which need another init segment). A rendition that cannot start is left out,
 * as in the HLS multivariant playlist; when none runs, the first error is the answer.
 * The plain ladder URL with ?format=dash is redirected here.
 */
export async function answerLadderMpd(ctx: CoreContext, hls: HlsService | undefined, sourceId: string, ladderOrId: LadderRow | string, client: ClientInfo): Promise<Response> {
  const ladder = typeof ladderOrId === 'string' ? await getLadder(ctx.store, ladderOrId) : ladderOrId;
  const url = new URL(client.request.url);
  if (!url.pathname.endsWith(MANIFEST_SUFFIX)) {
    const target = new URL(`${encodeURIComponent(ladder.id)}${MANIFEST_SUFFIX}`, url);
    const session = url.searchParams.get('session');
    if (session) target.searchParams.set('session', session);
    return new Response(null, { status: 302, headers: { location: target.pathname + target.search, 'cache-control': 'no-store' } });
  }
  if (!hls) return jsonError(404, 'not_found', 'HLS and DASH are not served by this coordinator');
  const viewer = viewerKey(client);
  // Every rendition at once: the slowest one's first segment bounds the wait, not their sum.
  hls.linkLadder(ladder.renditions.map((id) => `${sourceId}/${id}`));
  const started = await Promise.allSettled(ladder.renditions.map((id) => hls.liveVariant(sourceId, id, viewer)));
  const views: RenditionView[] = [];
  const refused: string[] = [];
  for (const [i, id] of ladder.renditions.entries()) {
    const result = started[i]!;
    if (result.status === 'rejected') {
      refused.push(`${id}: ${result.reason instanceof Error ? result.reason.message : String(result.reason)}`);
      continue;
    }
    const view = viewOf(id, result.value);
    if (typeof view === 'string') refused.push(`${id}: ${view}`);
    else {
      // Its own latest Period only: one init segment per Representation.
      const periodStart = view.segments.at(-1)!.timed.periodStart;
      views.push({ ...view, segments: view.segments.filter((s) => s.timed.periodStart === periodStart) });
    }
  }
  if (refused.length) ctx.log.warn('ladder renditions left out of the DASH manifest', { ladder: ladder.id, source: sourceId, refused });
  const anchor = views[0];
  if (!anchor) {
    const firstFailure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    return notAcceptable(`no rendition of ladder ${ladder.id} can be served as DASH: ${refused.join('; ')}`);
  }
  const period = anchor.variant.dash.plan(anchor.segments.map((s) => s.timed)).periods.at(-1)!;
  const availabilityStartTime = anchor.variant.dash.availabilityStartTime!;
  const profiles = new Map<string, { videoBitrateKbps: number; audioBitrateKbps: number }>();
  for (const v of views) profiles.set(v.profileId, await getProfile(ctx.store, v.profileId));
  const representations: RepresentationInput[] = [];
  for (const view of views) {
    // From the Period's origin on, on the same (source) timeline as the anchor's.
    const from = { ...view, segments: view.segments.filter((s) => timestampDelta(period.pto, s.timed.start) >= 0) };
    const initIndex = from.segments[0]?.timed.periodStart ?? 0;
    const rep = videoRepresentation(from, { pto: period.pto, initIndex }, (profiles.get(view.profileId)!.videoBitrateKbps || 1000) * 1000);
    if (rep) representations.push(rep);
  }
  const anchorPart = within(anchor, period);
  const audio = audioAdaptationSet(anchorPart, period, (profiles.get(anchor.profileId)!.audioBitrateKbps || 128) * 1000);
  // Top rendition first, as listed; players pick by bandwidth.
  const sets: AdaptationSetInput[] = [{ id: 1, contentType: 'video', mimeType: 'video/mp4', representations }];
  if (audio) sets.push(audio);
  const body = renderMpd(manifest(ctx, anchor.variant, availabilityStartTime, [{ id: `${ladder.id}-${anchor.variant.window.epoch}-${period.key}`, start: period.start, adaptationSets: sets }]));
  return mpdResponse(body, Math.max(...views.map((v) => v.variant.window.targetDuration)));
}
