// A ladder on the stream URL, beside the profiles that share its URL space:
//   /stream/{source}/{ladder}.m3u8   HLS multivariant playlist; starts every rendition
//   /stream/{source}/{ladder}        one rendition as MPEG-TS (?rendition= picks, the top
//                                    one by default); Apple players and ?format=hls(-fmp4)
//                                    are redirected to the .m3u8
//   /stream/{source}/{ladder}.mpd    DASH (and ?format=dash): dash-routes.ts
//
// Each rendition is an ordinary variant (source x profile): the multivariant playlist
// asks the HLS service for every rendition's media playlist, which starts it through the
// same opener as /stream/{source}/{profile}.m3u8 (unknown source 404, no capacity 503)
// and waits for its first segment, so the player's first media playlist fetch is
// answered at once. A rendition that cannot start (no capacity for it) is left out
// rather than failing the whole ladder; when none starts, the first error is the answer.
//
// MPEG-TS renditions carry their audio muxed (the TS convention). fMP4 (?format=hls-fmp4)
// follows Apple's HLS authoring spec for CMAF instead: each rendition's media playlist is
// its video only ({profile}.m3u8?format=hls-fmp4&track=video), and the audio is one
// EXT-X-MEDIA TYPE=AUDIO group (DEFAULT, AUTOSELECT) whose playlist is the top running
// rendition's audio (&track=audio), as in the ladder's MPD. Both list the per-track CMAF
// fragments DASH serves, from the same one remux per segment (segment-cmaf.ts).
import { listProfiles } from '../../catalog/catalog-store';
import { findLadder, type LadderRow } from '../../catalog/ladder-store';
import type { CoreContext } from '../../context';
import type { HlsService } from '../../streams/hls/hls-service';
import { hlsAcceptsStreamCodec, isApplePlayer, parseFormat } from '../../streams/hls/negotiate';
import { describeVariant, renderMultivariantPlaylist, type AudioGroup, type VariantStream } from '../../streams/ladder/multivariant-playlist';
import { measureRendition, type MeasuredSegment } from '../../streams/ladder/rendition-facts';
import { viewerKey } from './hls-routes';
import { jsonError } from './stream-viewer';
import { answerLadderMpd } from './dash-routes';

export interface LadderClient {
  request: Request;
  ip: string;
}

/** A ready response, or the profile whose MPEG-TS stream the client gets. */
export type LadderAnswer = Response | { rendition: string };

const AAC_STREAM_TYPE = 0x0f;
const SESSION = /^[A-Za-z0-9_-]{1,64}$/;
const AUDIO_GROUP = 'audio';

/**
 * Answers `/stream/{source}/{id}` when `id` (less a .m3u8 or .mpd suffix) is a ladder;
 * undefined when it is not, and the profile routes answer as before.
 */
export async function answerLadderRequest(ctx: CoreContext, hls: HlsService | undefined, sourceId: string, id: string, client: LadderClient): Promise<LadderAnswer | undefined> {
  const suffix = id.endsWith('.m3u8') ? '.m3u8' : id.endsWith('.mpd') ? '.mpd' : '';
  const ladder = await findLadder(ctx.store, id.slice(0, id.length - suffix.length));
  if (!ladder) return undefined;
  const url = new URL(client.request.url);
  const rawFormat = url.searchParams.get('format');
  if (suffix === '.mpd' || rawFormat === 'dash') {
    if (suffix === '.m3u8') return jsonError(400, 'invalid_request', 'a .m3u8 URL is HLS: use the .mpd URL for DASH', 'query.format');
    return answerDash(ctx, hls, sourceId, ladder, client);
  }
  const format = parseFormat(rawFormat);
  if (format && typeof format === 'object') return jsonError(400, 'invalid_request', format.error, 'query.format');
  if (suffix === '.m3u8') {
    if (format === 'ts') return jsonError(400, 'invalid_request', 'a .m3u8 URL is HLS: use the stream URL without .m3u8 for MPEG-TS', 'query.format');
    if (!hls) return jsonError(404, 'not_found', 'HLS is not served by this coordinator');
    return multivariantResponse(ctx, hls, sourceId, ladder, client, format === 'hls-fmp4' ? 'fmp4' : 'ts');
  }
  const chosen = format ?? (isApplePlayer(client.request.headers.get('user-agent')) ? 'hls' : 'ts');
  if (chosen !== 'ts') {
    const target = new URL(`${encodeURIComponent(ladder.id)}.m3u8`, url);
    if (chosen === 'hls-fmp4') target.searchParams.set('format', 'hls-fmp4');
    const session = url.searchParams.get('session');
    if (session) target.searchParams.set('session', session);
    return new Response(null, { status: 302, headers: { location: target.pathname + target.search, 'cache-control': 'no-store' } });
  }
  const rendition = url.searchParams.get('rendition') ?? ladder.renditions[0]!;
  if (!ladder.renditions.includes(rendition)) {
    return jsonError(400, 'invalid_request', `ladder ${ladder.id} has no rendition ${JSON.stringify(rendition.slice(0, 64))}; renditions: ${ladder.renditions.join(', ')}`, 'query.rendition');
  }
  return { rendition };
}

async function multivariantResponse(ctx: CoreContext, hls: HlsService, sourceId: string, ladder: LadderRow, client: LadderClient, container: 'ts' | 'fmp4'): Promise<Response> {
  const viewer = viewerKey(client);
  const profiles = new Map((await listProfiles(ctx.store)).map((p) => [p.id, p] as const));
  // Every rendition at once: the slowest one's first segment bounds the wait, not their sum.
  hls.linkLadder(ladder.renditions.map((id) => `${sourceId}/${id}`));
  const started = await Promise.allSettled(ladder.renditions.map((id) => hls.playlist(sourceId, id, viewer, '', 'ts')));
  // fMP4: each rendition's video on its own, and the audio as one group (see the header).
  const trackQuery = (track: 'video' | 'audio' | null) => {
    const query = new URLSearchParams();
    if (container === 'fmp4') query.set('format', 'hls-fmp4');
    if (track) query.set('track', track);
    const session = new URL(client.request.url).searchParams.get('session');
    if (session && SESSION.test(session)) query.set('session', session);
    return query.size ? `?${query}` : '';
  };
  let audio: AudioGroup | null = null;
  const variants: VariantStream[] = [];
  const refused: string[] = [];
  for (const [i, id] of ladder.renditions.entries()) {
    const result = started[i]!;
    const profile = profiles.get(id);
    if (result.status === 'rejected' || !profile) {
      refused.push(`${id}: ${result.status === 'rejected' ? String((result.reason as Error)?.message ?? result.reason) : 'profile gone'}`);
      continue;
    }
    const playlist = result.value;
    if (!hlsAcceptsStreamCodec(playlist.videoCodec)) {
      refused.push(`${id}: carries ${playlist.videoCodec ?? 'no video'}, which HLS players do not decode`);
      continue;
    }
    // The fMP4 muxer carries AAC only (as for a profile's own .m3u8?format=hls-fmp4).
    if (container === 'fmp4' && playlist.audioStreamTypes.some((t) => t !== AAC_STREAM_TYPE)) {
      refused.push(`${id}: has non-AAC audio, which fMP4 segments here do not carry`);
      continue;
    }
    const facts = measureRendition(retainedSegments(hls, sourceId, id, playlist.body, viewer));
    const uri = `${encodeURIComponent(id)}.m3u8${trackQuery(container === 'fmp4' ? 'video' : null)}`;
    variants.push(describeVariant(uri, profile, facts));
    // The top running rendition's audio, as the ladder's MPD has it: every rendition's is
    // the same source audio in the same codec (ladder-checks.ts).
    if (container === 'fmp4' && !audio && playlist.audioStreamTypes.length > 0) {
      audio = { groupId: AUDIO_GROUP, name: 'audio', uri: `${encodeURIComponent(id)}.m3u8${trackQuery('audio')}`, channels: facts?.audioChannels ?? null };
    }
  }
  if (refused.length) ctx.log.warn('ladder renditions left out of the multivariant playlist', { ladder: ladder.id, source: sourceId, refused });
  if (variants.length === 0) {
    const firstFailure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    return jsonError(406, 'not_acceptable', `no rendition of ladder ${ladder.id} can be served as ${container === 'fmp4' ? 'HLS fMP4' : 'HLS'}: ${refused.join('; ')}`);
  }
  return new Response(renderMultivariantPlaylist(variants, container, audio), {
    headers: {
      'content-type': 'application/vnd.apple.mpegurl',
      // Measured values change, and each fetch admits the viewer to every rendition.
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
    },
  });
}

/** The segments a media playlist lists (names relative to its folder), as the HLS service retains them. */
function retainedSegments(hls: HlsService, sourceId: string, profileId: string, playlist: string, viewer: string): MeasuredSegment[] {
  const out: MeasuredSegment[] = [];
  for (const line of playlist.split('\n')) {
    const name = line.trim();
    if (!name || name.startsWith('#')) continue;
    try {
      const { segment } = hls.segment(sourceId, profileId, name, viewer);
      out.push({ data: segment.data, duration: segment.duration });
    } catch {
      // slid out of the window since the playlist was rendered
    }
  }
  return out;
}

// ---- DASH ----------------------------------------------------------------------
// The ladder's MPD: one Period, a Representation per running rendition (dash-routes.ts).
function answerDash(ctx: CoreContext, hls: HlsService | undefined, sourceId: string, ladder: LadderRow, client: LadderClient): Promise<Response> {
  return answerLadderMpd(ctx, hls, sourceId, ladder, client);
}
