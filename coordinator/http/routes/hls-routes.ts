// HLS endpoints beside each variant's MPEG-TS stream URL:
//   /stream/{source}/{profile}.m3u8      live media playlist (answered via the stream route,
//                                        whose `:profile` parameter also matches "x.m3u8");
//                                        ?format=hls-fmp4&track=video|audio: one track of it
//                                        (a ladder's fMP4 renditions and audio group)
//   /stream/{source}/{profile}/{seg}.ts  its segments (and .m4s / .init.mp4, and DASH's
//                                        .video.m4s, .audio.m4s and their .init.mp4)
// and the format choice on the plain stream URL (`?format=`, Apple user agents). The DASH
// manifest /stream/{source}/{profile}.mpd comes through here too (dash-routes.ts).
//
// Caching: a segment's name carries the run's epoch and its sequence number, so its
// bytes never change: immutable with a max-age, and any cache in front (nginx, a CDN)
// serves it to many viewers from one fetch. Playlists change every segment: max-age of
// half a target duration.
import { Elysia, t } from 'elysia';
import { getProfile } from '../../catalog/catalog-store';
import type { CoreContext } from '../../context';
import type { HlsService } from '../../streams/hls/hls-service';
import { CONTENT_TYPES, segmentBlob } from '../../streams/hls/segment-cmaf';
import { chooseFormat, hlsAcceptsProfileCodec, hlsAcceptsStreamCodec, parseFormat } from '../../streams/hls/negotiate';
import { ErrorBody } from '../schemas';
import { answerProfileMpd, MANIFEST_SUFFIX } from './dash-routes';
import { jsonError, manifestMaxAge, requestIp, viewerKey, type ClientInfo } from './stream-viewer';

export const SEGMENT_MAX_AGE_S = 300;
const PLAYLIST_SUFFIX = '.m3u8';

export { requestIp, viewerKey } from './stream-viewer';

/**
 * Handles the HLS and DASH side of a `/stream/{source}/{profile}` request: the playlist
 * when `profile` ends in .m3u8, the DASH manifest for .mpd, a redirect to either when it
 * is asked for (or HLS is chosen for an Apple player), a 400 for a bad `format`. Returns
 * undefined when the client gets today's MPEG-TS stream.
 */
export async function answerHlsOrNegotiate(ctx: CoreContext, hls: HlsService, sourceId: string, profile: string, client: ClientInfo): Promise<Response | undefined> {
  const url = new URL(client.request.url);
  const format = parseFormat(url.searchParams.get('format'));
  if (format && typeof format === 'object') return jsonError(400, 'invalid_request', format.error, 'query.format');
  if (profile.endsWith(MANIFEST_SUFFIX)) {
    if (format && format !== 'dash') return jsonError(400, 'invalid_request', `a .mpd URL is DASH: use the stream URL without .mpd for format=${format}`, 'query.format');
    return answerProfileMpd(ctx, hls, sourceId, profile.slice(0, -MANIFEST_SUFFIX.length), client);
  }
  if (profile.endsWith(PLAYLIST_SUFFIX)) {
    if (format === 'ts') return jsonError(400, 'invalid_request', 'a .m3u8 URL is HLS: use the stream URL without .m3u8 for MPEG-TS', 'query.format');
    if (format === 'dash') return jsonError(400, 'invalid_request', 'a .m3u8 URL is HLS: use the .mpd URL for DASH', 'query.format');
    const track = url.searchParams.get('track');
    if (track !== null && (format !== 'hls-fmp4' || (track !== 'video' && track !== 'audio'))) {
      return jsonError(400, 'invalid_request', 'track is video or audio, with format=hls-fmp4 (one track of the fMP4 fragments, as a ladder lists them)', 'query.track');
    }
    return playlistResponse(hls, sourceId, profile.slice(0, -PLAYLIST_SUFFIX.length), client, format === 'hls-fmp4' ? 'fmp4' : 'ts', track ?? undefined);
  }
  const row = await getProfile(ctx.store, profile); // 404 for an unknown profile, as before
  const chosen = chooseFormat(format, client.request.headers.get('user-agent'), row.videoCodec);
  if (chosen === 'ts') return undefined;
  // DASH here is the same CMAF fragments as HLS fMP4: the same codecs (H.264, HEVC).
  if (!hlsAcceptsProfileCodec(row.videoCodec)) {
    return jsonError(406, 'not_acceptable', `profile ${row.id} encodes ${row.videoCodec}, which ${chosen === 'dash' ? 'DASH' : 'HLS'} players do not decode; use format=ts`);
  }
  const target = new URL(`${encodeURIComponent(profile)}${chosen === 'dash' ? MANIFEST_SUFFIX : PLAYLIST_SUFFIX}`, url);
  if (chosen === 'hls-fmp4') target.searchParams.set('format', 'hls-fmp4');
  const session = url.searchParams.get('session');
  if (session) target.searchParams.set('session', session);
  return new Response(null, { status: 302, headers: { location: target.pathname + target.search, 'cache-control': 'no-store' } });
}

async function playlistResponse(hls: HlsService, sourceId: string, profileId: string, client: ClientInfo, container: 'ts' | 'fmp4', track?: 'video' | 'audio'): Promise<Response> {
  const result = await hls.playlist(sourceId, profileId, viewerKey(client), `${encodeURIComponent(profileId)}/`, container, track);
  if (!hlsAcceptsStreamCodec(result.videoCodec)) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} carries ${result.videoCodec ?? 'no video'}, which HLS players do not decode; use the MPEG-TS URL`);
  }
  // The fMP4 muxer (streams/hls/fmp4) carries AAC audio only; MP2 or AC-3 would be lost.
  if (container === 'fmp4' && result.audioStreamTypes.some((t) => t !== AAC_STREAM_TYPE)) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} has non-AAC audio, which fMP4 segments here do not carry; use format=hls`);
  }
  if (track === 'audio' && result.audioStreamTypes.length === 0) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} has no audio`);
  }
  return new Response(result.body, {
    headers: {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': `public, max-age=${manifestMaxAge(result.targetDuration)}`,
      'access-control-allow-origin': '*',
    },
  });
}

const AAC_STREAM_TYPE = 0x0f;

/** Answers a request from the coordinator that owns the source, when that is another one (cluster-streams.ts). */
export type OwnerProxy = (request: Request, sourceId: string) => Promise<Response | null>;

export function hlsRoutes(hls: HlsService, proxy?: OwnerProxy) {
  return new Elysia().get(
    '/stream/:source/:profile/:segment',
    async ({ params, request, server }) => {
      const proxied = proxy && (await proxy(request, params.source));
      if (proxied) return proxied;
      const { segment, kind } = hls.segment(params.source, params.profile, params.segment, viewerKey({ request, ip: requestIp(server, request) }));
      const blob = segmentBlob(segment, kind);
      if (!blob) {
        const why = kind.startsWith('audio') ? 'it has no AAC audio' : kind.startsWith('video') ? 'its video is not H.264 or HEVC with parameter sets' : 'video is not H.264 or HEVC with parameter sets';
        return jsonError(406, 'not_acceptable', `segment ${params.segment} cannot be carried in fMP4 (${why}); use the .ts segments`);
      }
      return new Response(blob, {
        headers: {
          'content-type': CONTENT_TYPES[kind],
          'cache-control': `public, max-age=${SEGMENT_MAX_AGE_S}, immutable`,
          'access-control-allow-origin': '*',
        },
      });
    },
    {
      params: t.Object({ source: t.String({ maxLength: 128 }), profile: t.String({ maxLength: 128 }), segment: t.String({ maxLength: 64 }) }),
      response: {
        200: t.Any({
          description:
            'an MPEG-TS segment (.ts, starting with PAT, PMT and a keyframe), its fMP4 fragment (.m4s) or init segment (.init.mp4), ' +
            'or for DASH one track of it (.video.m4s, .audio.m4s, .video.init.mp4, .audio.init.mp4)',
        }),
        404: ErrorBody,
        406: ErrorBody,
      },
      detail: {
        tags: ['streams'],
        summary: 'HLS or DASH media segment of a variant (listed in /stream/{source}/{profile}.m3u8 and .mpd)',
        description:
          'The live playlist is `/stream/{source}/{profile}.m3u8`, the DASH manifest `/stream/{source}/{profile}.mpd`. Segments are ' +
          'immutable (named by run and sequence number); one that left the live window, or is from an earlier run, is 404. ' +
          'An init segment is named by the first segment of its period and is served while any segment of the period is.',
      },
    },
  );
}
