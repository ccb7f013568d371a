// Client endpoints: the live MPEG-TS stream of a variant, and an M3U playlist of all
// variants and ladders for IPTV players and media servers. A ladder id on the stream URL
// is answered by ladder-stream.ts (multivariant playlist, one rendition as MPEG-TS).
import { Elysia, t } from 'elysia';
import { listProfiles, listSources } from '../../catalog/catalog-store';
import { listLadders } from '../../catalog/ladder-store';
import type { CoreContext } from '../../context';
import { ErrorBody } from '../schemas';
import { makeNullPacket } from '../../../common/mpegts';
import type { HlsService } from '../../streams/hls/hls-service';
import { answerHlsOrNegotiate, requestIp, type OwnerProxy } from './hls-routes';
import { answerLadderRequest } from './ladder-stream';
import { overloadedResponse } from './stream-viewer';
import type { ViewerAdmission } from '../../load/viewer-admission';

/**
 * Prefixes one null packet so the response headers leave before the first keyframe.
 * When the buffer cuts the client off (it stopped reading), onCut runs even if nothing is
 * pulling the response any more.
 */
export function startingWithNullPacket(inner: ReadableStream<Uint8Array>, onCut: () => void = () => {}): ReadableStream<Uint8Array> {
  const reader = inner.getReader();
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controller.enqueue(makeNullPacket());
        reader.closed.catch((err: unknown) => {
          onCut();
          try {
            controller.error(err);
          } catch {
            // already closed or errored
          }
        });
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** M3U is line-based: a control character in a name (a newline) would start an entry of its own. */
function m3uText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/** What opens a viewer's stream: the variants, or the cluster's streams (coordinator/cluster/cluster-streams.ts). */
export interface StreamOpener {
  openClientStream(sourceId: string, profileId: string): Promise<{ stream: ReadableStream<Uint8Array> }>;
}

export function streamRoutes(ctx: CoreContext, variants: StreamOpener, hls?: HlsService, proxy?: OwnerProxy, admission?: ViewerAdmission) {
  return new Elysia()
    .get(
      '/stream/:source/:profile',
      async ({ params, request, server }) => {
        const manifest = params.profile.endsWith('.m3u8') || params.profile.endsWith('.mpd');
        // A new viewer (an MPEG-TS stream, or the redirect or first playlist that starts one)
        // is a continuous cost: an overloaded coordinator refuses it at once, before any
        // lookup (503, Retry-After), rather than slow down every viewer it has. Playlist
        // reloads (.m3u8, .mpd) and segments are not refused: an HLS viewer's next one must come.
        if (!manifest) {
          const refusal = admission?.admitViewer();
          if (refusal) return overloadedResponse(refusal, admission!.overloadLagMs);
        }
        // Playlists and manifests of a source another coordinator owns: the owner's, so their
        // names and numbers are the same from every coordinator (cluster-streams.ts).
        if (proxy && manifest) {
          const proxied = await proxy(request, params.source);
          if (proxied) return proxied;
        }
        const client = { request, ip: requestIp(server, request) };
        // A ladder: its multivariant playlist, a redirect to it, or one rendition's MPEG-TS.
        const ladder = await answerLadderRequest(ctx, hls, params.source, params.profile, client);
        if (ladder instanceof Response) return ladder;
        // HLS: {profile}.m3u8 is the playlist; ?format= or an Apple user agent picks HLS.
        const hlsAnswer = !ladder && hls && (await answerHlsOrNegotiate(ctx, hls, params.source, params.profile, client));
        if (hlsAnswer) return hlsAnswer;
        const { stream } = await variants.openClientStream(params.source, ladder?.rendition ?? params.profile);
        // A live stream may go quiet (a failover, a source hiccup): it is exempt from the
        // server's idle timeout. A client that stops reading is cut by the shared buffer
        // (TVARR_STALLED_CLIENT_TIMEOUT_MS); the idle timeout then closes its connection.
        server?.timeout(request, 0);
        const cut = () => server?.timeout(request, ctx.config.httpIdleTimeoutS);
        return new Response(startingWithNullPacket(stream, cut), {
          headers: { 'content-type': 'video/mp2t', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' },
        });
      },
      {
        params: t.Object({ source: t.String({ maxLength: 128 }), profile: t.String({ maxLength: 128 }) }),
        response: { 200: t.Any({ description: 'continuous MPEG-TS (video/mp2t), or the HLS playlist for {profile}.m3u8 (a multivariant playlist for a ladder)' }), 302: t.Any({ description: 'to the HLS playlist' }), 400: ErrorBody, 404: ErrorBody, 406: ErrorBody, 502: ErrorBody, 503: ErrorBody },
        detail: {
          tags: ['streams'],
          summary: 'Live transcoded stream of a variant (source x profile) or a ladder (source x ladder)',
          description:
            '`?format=ts|hls|hls-fmp4` picks the format; without it Apple players (AppleCoreMedia, Safari, iOS) are redirected to ' +
            'the HLS playlist `/stream/{source}/{profile}.m3u8` and every other client gets continuous MPEG-TS as before. ' +
            'For a ladder id, `/stream/{source}/{ladder}.m3u8` is the HLS multivariant playlist (it starts every rendition), and ' +
            'the plain URL is one rendition as MPEG-TS: `?rendition=` picks it, the top one by default.',
        },
      },
    )
    .get(
      '/playlist.m3u',
      async ({ request }) => {
        const base = ctx.config.publicUrl ?? new URL(request.url).origin;
        // ?format=hls lists each variant's HLS playlist instead of its MPEG-TS URL.
        const format = new URL(request.url).searchParams.get('format');
        if (format !== null && format !== 'ts' && format !== 'hls') {
          return new Response(JSON.stringify({ error: { code: 'invalid_request', message: 'format must be ts or hls', field: 'query.format' } }), {
            status: 400,
            headers: { 'content-type': 'application/json' },
          });
        }
        const suffix = format === 'hls' ? '.m3u8' : '';
        const lines = ['#EXTM3U'];
        const entry = (s: { id: string; name: string }, what: { id: string; name: string }, urlSuffix: string) => {
          const name = m3uText(`${s.name} (${what.name})`).replace(/,/g, ' ');
          lines.push(`#EXTINF:-1 tvg-id="${m3uText(s.id)}" group-title="${m3uText(what.name).replace(/"/g, "'")}",${name}`);
          lines.push(`${base}/stream/${encodeURIComponent(s.id)}/${encodeURIComponent(what.id)}${urlSuffix}`);
        };
        const profiles = await listProfiles(ctx.store);
        const ladders = await listLadders(ctx.store);
        for (const s of await listSources(ctx.store)) {
          for (const p of profiles) entry(s, p, suffix);
          // A ladder is for adaptive players: always its multivariant playlist.
          for (const l of ladders) entry(s, l, '.m3u8');
        }
        return new Response(lines.join('\n') + '\n', { headers: { 'content-type': 'audio/x-mpegurl; charset=utf-8' } });
      },
      { detail: { tags: ['streams'], summary: 'M3U playlist of every variant (?format=hls: HLS playlist URLs) and every source x ladder (its multivariant playlist)' } },
    );
}
