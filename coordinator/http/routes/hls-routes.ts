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
import type { SegmentKind } from '../../streams/hls/hls-service';
import { remuxToCmaf } from '../../streams/hls/fmp4/cmaf-muxer';
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
    return playlistResponse(hls, sourceId, profile.slice(0, -PLAYLIST_SUFFIX.length), client, format === 'hls-fmp4' ? 'fmp4' : 'ts');
  }
  const row = await getProfile(ctx.store, profile); // 404 for an unknown profile, as before
  const chosen = chooseFormat(format, client.request.headers.get('user-agent'), row.videoCodec);
  if (chosen === 'ts') return undefined;
  if (!hlsAcceptsProfileCodec(row.videoCodec)) {
    return jsonError(406, 'not_acceptable', `profile ${row.id} encodes ${row.videoCodec}, which HLS players do not decode; use format=ts`);
  }
  const target = new URL(`${encodeURIComponent(profile)}${PLAYLIST_SUFFIX}`, url);
  if (chosen === 'hls-fmp4') target.searchParams.set('format', 'hls-fmp4');
  const session = url.searchParams.get('session');
  if (session) target.searchParams.set('session', session);
  return new Response(null, { status: 302, headers: { location: target.pathname + target.search, 'cache-control': 'no-store' } });
}

async function playlistResponse(hls: HlsService, sourceId: string, profileId: string, client: ClientInfo, container: 'ts' | 'fmp4'): Promise<Response> {
  const result = await hls.playlist(sourceId, profileId, viewerKey(client), `${encodeURIComponent(profileId)}/`, container);
  if (!hlsAcceptsStreamCodec(result.videoCodec)) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} carries ${result.videoCodec ?? 'no video'}, which HLS players do not decode; use the MPEG-TS URL`);
  }
  // The fMP4 muxer (streams/hls/fmp4) carries AAC audio only; MP2 or AC-3 would be lost.
  if (container === 'fmp4' && result.audioStreamTypes.some((t) => t !== AAC_STREAM_TYPE)) {
    return jsonError(406, 'not_acceptable', `variant ${sourceId}/${profileId} has non-AAC audio, which fMP4 segments here do not carry; use format=hls`);
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

const AAC_STREAM_TYPE = 0x0f;

// One Blob per segment and kind, made on first request: every response shares its bytes
// (a Uint8Array body is copied per response: 2,000 viewers of a 250 KB segment held
// ~300 MB more RSS), and a fragment is remuxed once however many viewers fetch it.
const blobs = new WeakMap<TsSegment, Partial<Record<SegmentKind, Blob | null>>>();
function segmentBlob(segment: TsSegment, kind: SegmentKind): Blob | null {
  let entry = blobs.get(segment);
  if (!entry) blobs.set(segment, (entry = {}));
  if (entry[kind] !== undefined) return entry[kind]!;
  if (kind === 'ts') entry.ts = new Blob([segment.data], { type: 'video/mp2t' });
  else {
    const cmaf = remuxToCmaf(segment.data, segment.index + 1);
    entry['init.mp4'] = cmaf && new Blob([cmaf.init as Uint8Array<ArrayBuffer>], { type: 'video/mp4' });
    entry.m4s = cmaf && new Blob([cmaf.fragment as Uint8Array<ArrayBuffer>], { type: 'video/iso.segment' });
  }
  return entry[kind]!;
}

const CONTENT_TYPES: Record<SegmentKind, string> = { ts: 'video/mp2t', m4s: 'video/iso.segment', 'init.mp4': 'video/mp4' };

export function hlsRoutes(hls: HlsService) {
  return new Elysia().get(
    '/stream/:source/:profile/:segment',
    ({ params, request, server }) => {
      const { segment, kind } = hls.segment(params.source, params.profile, params.segment, viewerKey({ request, ip: requestIp(server, request) }));
      const blob = segmentBlob(segment, kind);
      if (!blob) return jsonError(406, 'not_acceptable', `segment ${params.segment} cannot be carried in fMP4 (video is not H.264 or HEVC with parameter sets); use the .ts segments`);
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
        200: t.Any({ description: 'an MPEG-TS segment (.ts, starting with PAT, PMT and a keyframe), its fMP4 fragment (.m4s) or init segment (.init.mp4)' }),
        404: ErrorBody,
        406: ErrorBody,
      },
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
