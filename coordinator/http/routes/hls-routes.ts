// HLS endpoints beside each variant's MPEG-TS stream URL:
//   /stream/{source}/{profile}.m3u8      live media playlist (answered via the stream route,
//                                        whose `:profile` parameter also matches "x.m3u8")
//   /stream/{source}/{profile}/{seg}.ts  its segments
// and the format choice on the plain stream URL (`?format=`, Apple user agents).
//
// Caching: a segment's name carries the run's epoch and its sequence number, so its
// bytes never change: immutable with a max-age, and any cache in front (nginx, a CDN)
// serves it to many viewers from one fetch. Playlists change every segment: max-age of
// half a target duration.
import { Elysia, t } from 'elysia';
import { getProfile } from '../../catalog/catalog-store';
import type { CoreContext } from '../../context';
import type { HlsService } from '../../streams/hls/hls-service';
import type { TsSegment } from '../../streams/hls/ts-segmenter';
import { chooseFormat, hlsAcceptsProfileCodec, hlsAcceptsStreamCodec, parseFormat } from '../../streams/hls/negotiate';
import { ErrorBody } from '../schemas';

export const SEGMENT_MAX_AGE_S = 300;
const PLAYLIST_SUFFIX = '.m3u8';

interface ClientInfo {
  request: Request;
  /** Peer address (the cache's, behind a cache). */
  ip: string;
}

function jsonError(status: number, code: string, message: string, field?: string): Response {
  return new Response(JSON.stringify({ error: field ? { code, message, field } : { code, message } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

/**
 * A viewer's identity: `?session=` when the player adds one (many viewers behind one
 * address), else peer address + user agent. Bounded: a session is at most 64 safe
 * characters, a user agent is cut at 200.
 */
export function viewerKey({ request, ip }: ClientInfo): string {
  const url = new URL(request.url);
  const session = url.searchParams.get('session');
  if (session && /^[A-Za-z0-9_-]{1,64}$/.test(session)) return `s:${session}`;
  return `a:${ip} ${(request.headers.get('user-agent') ?? '').slice(0, 200)}`;
}

export function requestIp(server: { requestIP(r: Request): { address: string } | null } | null | undefined, request: Request): string {
  return server?.requestIP(request)?.address ?? 'unknown';
}

/**
 * Handles the HLS side of a `/stream/{source}/{profile}` request: the playlist when
 * `profile` ends in .m3u8, a redirect to it when HLS is asked for or chosen, a 400 for a
 * bad `format`. Returns undefined when the client gets today's MPEG-TS stream.
 */
export async function answerHlsOrNegotiate(ctx: CoreContext, hls: HlsService, sourceId: string, profile: string, client: ClientInfo): Promise<Response | undefined> {
  const url = new URL(client.request.url);
  const format = parseFormat(url.searchParams.get('format'));
  if (format && typeof format === 'object') return jsonError(400, 'invalid_request', format.error, 'query.format');
  if (profile.endsWith(PLAYLIST_SUFFIX)) {
    if (format === 'ts') return jsonError(400, 'invalid_request', 'a .m3u8 URL is HLS: use the stream URL without .m3u8 for MPEG-TS', 'query.format');
    if (format === 'hls-fmp4') return jsonError(400, 'invalid_request', 'fMP4 (CMAF) segments are not available yet: use format=hls (MPEG-TS segments)', 'query.format');
    return playlistResponse(hls, sourceId, profile.slice(0, -PLAYLIST_SUFFIX.length), client);
  }
  const row = getProfile(ctx.db, profile); // 404 for an unknown profile, as before
  const chosen = chooseFormat(format, client.request.headers.get('user-agent'), row.videoCodec);
  if (chosen === 'ts') return undefined;
  if (chosen === 'hls-fmp4') return jsonError(400, 'invalid_request', 'fMP4 (CMAF) segments are not available yet: use format=hls (MPEG-TS segments)', 'query.format');
  if (!hlsAcceptsProfileCodec(row.videoCodec)) {
    return jsonError(406, 'not_acceptable', `profile ${row.id} encodes ${row.videoCodec}, which HLS players do not decode; use format=ts`);
  }
  const target = new URL(`${encodeURIComponent(profile)}${PLAYLIST_SUFFIX}`, url);
  const session = url.searchParams.get('session');
  if (session) target.searchParams.set('session', session);
  return new Response(null, { status: 302, headers: { location: target.pathname + target.search, 'cache-control': 'no-store' } });
}

async function playlistResponse(hls: HlsService, sourceId: string, profileId: string, client: ClientInfo): Promise<Response> {
  const result = await hls.playlist(sourceId, profileId, viewerKey(client), `${encodeURIComponent(profileId)}/`);
  if (!hlsAcceptsStreamCodec(result.videoCodec)) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} carries ${result.videoCodec ?? 'no video'}, which HLS players do not decode; use the MPEG-TS URL`);
  }
  const maxAge = Math.max(1, Math.floor(result.targetDuration / 2));
  return new Response(result.body, {
    headers: {
      'content-type': 'application/vnd.apple.mpegurl',
      'cache-control': `public, max-age=${maxAge}`,
      'access-control-allow-origin': '*',
    },
  });
}

const blobs = new WeakMap<TsSegment, Blob>();
function segmentBlob(segment: TsSegment): Blob {
  let blob = blobs.get(segment);
  if (!blob) {
    blob = new Blob([segment.data], { type: 'video/mp2t' });
    blobs.set(segment, blob);
  }
  return blob;
}

export function hlsRoutes(hls: HlsService) {
  return new Elysia().get(
    '/stream/:source/:profile/:segment',
    ({ params, request, server }) => {
      const segment = hls.segment(params.source, params.profile, params.segment, viewerKey({ request, ip: requestIp(server, request) }));
      // A Blob made once per segment: every response shares its bytes. A Uint8Array body
      // is copied per response (2,000 viewers of a 250 KB segment held ~300 MB more RSS).
      return new Response(segmentBlob(segment), {
        headers: {
          'content-type': 'video/mp2t',
          'cache-control': `public, max-age=${SEGMENT_MAX_AGE_S}, immutable`,
          'access-control-allow-origin': '*',
        },
      });
    },
    {
      params: t.Object({ source: t.String({ maxLength: 128 }), profile: t.String({ maxLength: 128 }), segment: t.String({ maxLength: 64 }) }),
      response: { 200: t.Any({ description: 'one MPEG-TS media segment (video/mp2t), starting with PAT, PMT and a keyframe' }), 404: ErrorBody },
      detail: {
        tags: ['streams'],
        summary: 'HLS media segment of a variant (listed in /stream/{source}/{profile}.m3u8)',
        description:
          'The live playlist is `/stream/{source}/{profile}.m3u8`. Segments are immutable (named by run and sequence number); ' +
          'one that left the live window, or is from an earlier run, is 404.',
      },
    },
  );
}
