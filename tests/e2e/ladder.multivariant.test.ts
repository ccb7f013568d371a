// A ladder of three H.264 renditions against a real cluster (coordinator + worker
// processes, real FFmpeg), on both store engines: the multivariant playlist starts every
// rendition, lists them top first with the attributes a player chooses by (CODECS taken
// from the stream's own SPS, checked against ffprobe), each media playlist and segment
// plays at its size, an MPEG-TS client gets one rendition, and the API refuses what
// cannot form a ladder (422 naming the field, 409 for shared ids).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startTinyLadderCluster, TEST_ENGINES, TestCluster, tinyRenditions } from '../helpers/cluster';
import { parseMediaPlaylist } from '../helpers/hls-client';
import { ffprobeBytes, makeTempDir, readFor } from '../helpers/media';
import { writeFileSync } from 'node:fs';

const RENDITIONS = tinyRenditions('l');
const H264_PROFILE_IDC: Record<string, number> = { Baseline: 66, 'Constrained Baseline': 66, Main: 77, High: 100 };

interface StreamInf {
  attrs: Record<string, string>;
  uri: string;
}

/** EXT-X-STREAM-INF entries; attribute values keep no quotes (CODECS holds commas). */
function parseMultivariant(text: string): { header: string[]; variants: StreamInf[] } {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  const variants: StreamInf[] = [];
  const header: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith('#EXT-X-STREAM-INF:')) {
      if (line.startsWith('#')) header.push(line);
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const m of line.slice('#EXT-X-STREAM-INF:'.length).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs[m[1]!] = m[2]!.replace(/^"|"$/g, '');
    variants.push({ attrs, uri: lines[++i]! });
  }
  return { header, variants };
}

async function probeVideo(bytes: Uint8Array, dir: string): Promise<{ codec_name: string; width: number; height: number; profile: string; level: number }> {
  const path = `${dir}/probe-${Math.random().toString(36).slice(2)}.ts`;
  writeFileSync(path, bytes);
  const proc = Bun.spawn(['ffprobe', '-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,width,height,profile,level', '-of', 'json', path], { stdout: 'pipe', stderr: 'pipe' });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(await new Response(proc.stderr).text());
  return (JSON.parse(out) as { streams: { codec_name: string; width: number; height: number; profile: string; level: number }[] }).streams[0]!;
}

describe.each(TEST_ENGINES)('ladder multivariant playlist (%s)', (engine) => {
  const cluster = new TestCluster({ engine });
  const temp = makeTempDir('ladder-e2e');
  let base: string;

  beforeAll(async () => {
    await startTinyLadderCluster(cluster, RENDITIONS);
    base = cluster.coordinator.httpUrl;
  });

  afterAll(async () => {
    await cluster.stop();
    temp.cleanup();
  });

  test('POST a three-rendition ladder; 422 naming the field and 409 for ids a profile has', async () => {
    const api = cluster.coordinator.api;
    const unknown = await api<{ error: { field: string; message: string } }>('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'ABR', renditions: ['l180', 'nope'] }) });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ field: 'renditions[1]', message: "body.renditions[1]: unknown profile 'nope'" });
    const collision = await api<{ error: { code: string; field: string } }>('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'l144', name: 'x', renditions: ['l180'] }) });
    expect(collision.status).toBe(409);
    expect(collision.body.error).toMatchObject({ code: 'conflict', field: 'id' });
    const created = await api('/api/ladders', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'ABR', renditions: RENDITIONS.map((r) => r.id) }) });
    expect(created.status).toBe(201);
    const asProfile = await api('/api/profiles', { method: 'POST', body: JSON.stringify({ id: 'abr', name: 'x', videoCodec: 'h264' }) });
    expect(asProfile.status).toBe(409);
  });

  test('the multivariant playlist starts every rendition and describes each from its own stream', async () => {
    const res = await fetch(`${base}/stream/pattern/abr.m3u8?session=e2e`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    const text = await res.text();
    const { header, variants } = parseMultivariant(text);
    expect(header).toEqual(['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS']);
    expect(variants.map((v) => v.uri)).toEqual(RENDITIONS.map((r) => `${r.id}.m3u8?session=e2e`));

    // Every rendition runs before the player asks for any media playlist.
    const live = await cluster.coordinator.api<{ live: { variant: string }[] }>('/api/variants');
    for (const r of RENDITIONS) expect(live.body.live.map((v) => v.variant)).toContain(`pattern/${r.id}`);

    for (const [i, r] of RENDITIONS.entries()) {
      const { attrs, uri } = variants[i]!;
      expect(attrs.RESOLUTION).toBe(`${r.width}x${r.height}`);
      expect(attrs['FRAME-RATE']).toBe('25.000');
      const bandwidth = Number(attrs.BANDWIDTH);
      const average = Number(attrs['AVERAGE-BANDWIDTH']);
      expect(bandwidth).toBeGreaterThan(10_000);
      expect(average).toBeGreaterThan(0);
      expect(average).toBeLessThanOrEqual(bandwidth);
      const codecs = attrs.CODECS!.split(',');
      expect(codecs[1]).toBe('mp4a.40.2');
      expect(codecs[0]).toMatch(/^avc1\.[0-9a-f]{6}$/);

      // The media playlist answers at once (its variant already runs) and its segment
      // is this rendition: codec, size, and the profile and level CODECS names.
      const mediaUrl = new URL(uri, res.url);
      const media = await fetch(mediaUrl);
      expect(media.status).toBe(200);
      const playlist = parseMediaPlaylist(await media.text());
      expect(playlist.segments.length).toBeGreaterThan(0);
      const segment = await fetch(new URL(playlist.segments.at(-1)!.uri, mediaUrl));
      expect(segment.status).toBe(200);
      const bytes = new Uint8Array(await segment.arrayBuffer());
      const video = await probeVideo(bytes, temp.dir);
      expect(video.codec_name).toBe('h264');
      expect([video.width, video.height]).toEqual([r.width, r.height]);
      expect(parseInt(codecs[0]!.slice(5, 7), 16)).toBe(H264_PROFILE_IDC[video.profile]!);
      expect(parseInt(codecs[0]!.slice(9, 11), 16)).toBe(video.level);
    }
  });

  test('?format=hls-fmp4: version 7, video-only fMP4 media playlists and one audio group, same renditions', async () => {
    const res = await fetch(`${base}/stream/pattern/abr.m3u8?format=hls-fmp4&session=e2e`);
    expect(res.status).toBe(200);
    const { header, variants } = parseMultivariant(await res.text());
    expect(header).toContain('#EXT-X-VERSION:7');
    expect(header).toContain(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="audio",DEFAULT=YES,AUTOSELECT=YES,CHANNELS="2",URI="${RENDITIONS[0].id}.m3u8?format=hls-fmp4&track=audio&session=e2e"`);
    expect(variants.map((v) => v.uri)).toEqual(RENDITIONS.map((r) => `${r.id}.m3u8?format=hls-fmp4&track=video&session=e2e`));
    for (const v of variants) expect([v.attrs.AUDIO, v.attrs.CODECS!.split(',')[1]]).toEqual(['audio', 'mp4a.40.2']);
    const media = await (await fetch(new URL(variants[0]!.uri, res.url))).text();
    expect(media).toMatch(/#EXT-X-MAP:URI="[^"]+\.video\.init\.mp4"/);
    // One track is an fMP4 thing: 400 naming the field otherwise.
    const bad = await fetch(`${base}/stream/pattern/${RENDITIONS[0].id}.m3u8?track=audio`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('query.track');
  });

  test('MPEG-TS on the ladder URL: the top rendition by default, ?rendition= picks, an Apple player is redirected', async () => {
    for (const [query, size] of [['', RENDITIONS[0]], ['?rendition=l108', RENDITIONS[2]]] as const) {
      const res = await fetch(`${base}/stream/pattern/abr${query}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('video/mp2t');
      const probe = await ffprobeBytes(await readFor(res.body!, 2_500));
      const video = probe.streams.find((s) => s.codec_type === 'video')!;
      expect([video.width, video.height]).toEqual([size.width, size.height]);
    }
    const bad = await fetch(`${base}/stream/pattern/abr?rendition=h264-360p`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('query.rendition');
    const apple = await fetch(`${base}/stream/pattern/abr`, { headers: { 'user-agent': 'AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X)' }, redirect: 'manual' });
    expect(apple.status).toBe(302);
    expect(apple.headers.get('location')).toBe('/stream/pattern/abr.m3u8');
  });

  test('/playlist.m3u lists the ladder at its multivariant playlist', async () => {
    const text = await (await fetch(`${base}/playlist.m3u`)).text();
    expect(text).toContain(`#EXTINF:-1 tvg-id="pattern" group-title="ABR",pattern (ABR)\n${base}/stream/pattern/abr.m3u8\n`);
  });
});
