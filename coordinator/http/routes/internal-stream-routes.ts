// GET /internal/stream/{source}/{profile}: a variant's MPEG-TS for another coordinator of
// the cluster to mirror (coordinator/cluster/mirror-run.ts), one per variant per peer.
// Only with the cluster secret (x-tvarr-cluster-secret, coordinator/cluster/cluster-secret.ts):
// 401 for anyone else, so viewers can never bypass a coordinator's client limits through it.
// Only the source's owner serves it: 421 otherwise, and the peer asks again who owns it.
import { Elysia, t } from 'elysia';
import { clusterSecretMatches, CLUSTER_SECRET_HEADER } from '../../cluster/cluster-secret';
import type { ClusterStreams } from '../../cluster/cluster-streams';
import { startingWithNullPacket } from './stream-routes';
import { jsonError } from './stream-viewer';

export function internalStreamRoutes(streams: ClusterStreams, secret: () => Promise<string>) {
  return new Elysia().get(
    '/internal/stream/:source/:profile',
    async ({ params, request, server }) => {
      if (!clusterSecretMatches(await secret(), request.headers.get(CLUSTER_SECRET_HEADER))) {
        return jsonError(401, 'unauthorized', 'internal cluster endpoint: coordinators only');
      }
      const stream = await streams.openForPeer(params.source, params.profile);
      if (stream === 'not_owner') return jsonError(421, 'not_owner', `this coordinator does not own source ${params.source}; ask the cluster again`);
      server?.timeout(request, 0);
      // The headers leave before the first keyframe, as for a viewer (stream-routes.ts).
      return new Response(startingWithNullPacket(stream), { headers: { 'content-type': 'video/mp2t', 'cache-control': 'no-store' } });
    },
    {
      params: t.Object({ source: t.String({ maxLength: 128 }), profile: t.String({ maxLength: 128 }) }),
      detail: { hide: true },
    },
  );
}
