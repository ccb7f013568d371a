// The copies a coordinator keeps of an owner's newest HLS segments (coordinator/cluster/
// segment-replicas.ts), against a real HTTP server standing for the owner: what a playlist
// names, which get copied, the byte bound, and what is never kept.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { MAX_SEGMENT_BYTES, playlistUris, SegmentReplicas } from '../../coordinator/cluster/segment-replicas';
import { eventually } from '../helpers/processes';

let owner: ReturnType<typeof Bun.serve>;
const served: string[] = [];

beforeAll(() => {
  owner = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch(req) {
      const path = new URL(req.url).pathname;
      served.push(path);
      if (path.endsWith('/huge.ts')) return new Response(new Uint8Array(MAX_SEGMENT_BYTES + 1), { headers: { 'content-type': 'video/mp2t' } });
      if (path.endsWith('/gone.ts')) return new Response('no', { status: 404 });
      const n = Number(/(\d+)\.(ts|mp4)$/.exec(path)?.[1] ?? 1);
      return new Response(new Uint8Array(1000 * n).fill(n), { headers: { 'content-type': path.endsWith('.mp4') ? 'video/mp4' : 'video/mp2t' } });
    },
  });
});
afterAll(() => owner.stop(true));

const base = () => `http://127.0.0.1:${owner.port}`;
const media = (names: string[], map?: string) =>
  ['#EXTM3U', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:7', ...(map ? [`#EXT-X-MAP:URI="${map}"`] : []), ...names.flatMap((n) => ['#EXTINF:2.0,', n])].join('\n');
const fetchFromOwner = (httpUrl: string, path: string) => fetch(`${httpUrl}${path}`);

test('what a playlist names: its segments and its EXT-X-MAP; a multivariant playlist names none', () => {
  expect(playlistUris(media(['a-1.ts', 'a-2.ts'], 'init-1.mp4'))).toEqual({ maps: ['init-1.mp4'], segments: ['a-1.ts', 'a-2.ts'] });
  expect(playlistUris('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nr720.m3u8\n')).toEqual({ maps: [], segments: [] });
});

test("the newest segments a playlist lists are copied from the owner and served as they were; paths resolve against the playlist's", async () => {
  const r = new SegmentReplicas(fetchFromOwner);
  const names = Array.from({ length: 10 }, (_, i) => `seg-${i + 1}.ts`);
  r.notePlaylist(base(), '/stream/s/p.m3u8', media(names, 'init-3.mp4'));
  await eventually('six segments and the map copied', () => r.size.entries === 7, 5000);
  expect(r.has('/stream/s/seg-1.ts')).toBe(false); // older than the newest six
  expect(r.has('/stream/s/init-3.mp4')).toBe(true);
  const copy = r.get('/stream/s/seg-10.ts')!;
  expect(copy.status).toBe(200);
  expect(copy.headers.get('content-type')).toBe('video/mp2t');
  const bytes = new Uint8Array(await copy.arrayBuffer());
  expect(bytes.byteLength).toBe(10_000);
  expect(bytes.every((b) => b === 10)).toBe(true);
  expect(r.get('/stream/s/unknown.ts')).toBeNull();
  // Listed again: nothing fetched twice.
  const before = served.length;
  r.notePlaylist(base(), '/stream/s/p.m3u8', media(names, 'init-3.mp4'));
  await Bun.sleep(100); // nothing should happen: no event to wait for
  expect(served.length).toBe(before);
});

test('bounded: oldest out past the byte limit; a segment over the per-segment limit or a failed fetch is not kept', async () => {
  const r = new SegmentReplicas(fetchFromOwner, 25_000);
  r.notePlaylist(base(), '/v/p.m3u8', media(['x-5.ts', 'x-6.ts', 'x-7.ts', 'x-8.ts']));
  await eventually('copies settle under the bound', () => !r.has('/v/x-5.ts') && r.has('/v/x-8.ts'), 5000);
  expect(r.size.bytes).toBeLessThanOrEqual(25_000);
  const big = new SegmentReplicas(fetchFromOwner);
  big.notePlaylist(base(), '/v/p.m3u8', media(['huge.ts', 'gone.ts', 'y-1.ts']));
  await eventually('the small one copied', () => big.has('/v/y-1.ts'), 5000);
  await eventually('the others settled', () => served.filter((p) => p === '/v/huge.ts' || p === '/v/gone.ts').length >= 2, 5000);
  expect(big.has('/v/huge.ts')).toBe(false);
  expect(big.has('/v/gone.ts')).toBe(false);
});
