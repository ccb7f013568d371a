// HLS cut from a variant's shared buffer, against a real cluster (coordinator + worker
// processes, real FFmpeg): ffprobe plays the .m3u8, the live window slides, every segment
// stands alone, the plain stream URL negotiates by user agent and ?format=, bad input
// gets JSON errors, and HLS viewers count as clients (limits, /api/variants, leaving).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { fragmentDecodeTimes, parseMediaPlaylist, segmentOpening } from '../helpers/hls-client';
import { decodeErrors, ffprobeBytes, readBytes } from '../helpers/media';
import { eventually } from '../helpers/processes';

const VARIANT = `pattern/${TINY_H264_PROFILE.id}`;
const APPLE_UA = 'AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X; en_us)';
const MAX_PER_VARIANT = 5;

interface VariantsView {
  live: { variant: string; clients: number; viewers?: { ts: number; hls: number } }[];
  recentlyEnded: { variant: string; reason: string }[];
}

describe('HLS per variant', () => {
  const cluster = new TestCluster({ env: { TVARR_MAX_CLIENTS_PER_VARIANT: String(MAX_PER_VARIANT) } });
  let base: string;
  const playlistUrl = () => `${base}/stream/${VARIANT}.m3u8`;

  async function fetchPlaylist(session = 'main') {
    const res = await fetch(`${playlistUrl()}?session=${session}`);
    expect(res.status).toBe(200);
    return { res, playlist: parseMediaPlaylist(await res.text()) };
  }

  beforeAll(async () => {
    await cluster.startCoordinator();
    base = cluster.coordinator.httpUrl;
    await cluster.startWorker('a');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createProfile(TINY_H264_PROFILE);
    // No worker here has NVENC: this variant cannot start (503 no_capacity).
    await cluster.createProfile({ ...TINY_H264_PROFILE, id: 'h264-gpu', encoderPreference: 'nvenc', preset: 'p4' });
  });

  afterAll(async () => {
    await cluster.stop();
  });

  test('ffprobe reads the .m3u8 of a running variant: the profile codec and size', async () => {
    const { res, playlist } = await fetchPlaylist();
    expect(res.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=1$/);
    expect(playlist.targetDuration).toBeGreaterThanOrEqual(2);
    expect(playlist.ended).toBe(false);
    const proc = Bun.spawn(['ffprobe', '-v', 'error', '-show_streams', '-of', 'json', playlistUrl()], { stdout: 'pipe', stderr: 'pipe' });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    const streams = (JSON.parse(out) as { streams: { codec_type: string; codec_name: string; width?: number; height?: number }[] }).streams;
    const video = streams.find((s) => s.codec_type === 'video')!;
    expect(video.codec_name).toBe('h264');
    expect([video.width, video.height]).toEqual([TINY_H264_PROFILE.width, TINY_H264_PROFILE.height]);
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
  });

  test('three playlist fetches a segment apart: the media sequence advances, the window slides', async () => {
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const next = await eventually(`playlist fetch ${i + 1} to show a new segment`, async () => {
        const { playlist } = await fetchPlaylist();
        const last = playlist.segments.at(-1)!.sequence;
        return seen.length === 0 || last > seen.at(-1)! ? last : undefined;
      }, 30_000);
      seen.push(next);
    }
    expect(seen[1]).toBeGreaterThan(seen[0]!);
    expect(seen[2]).toBeGreaterThan(seen[1]!);
    const { playlist } = await fetchPlaylist();
    expect(playlist.segments.length).toBeLessThanOrEqual(6);
    expect(playlist.mediaSequence).toBe(playlist.segments[0]!.sequence);
    // No failover happened: no discontinuity anywhere.
    expect(playlist.segments.some((s) => s.discontinuity)).toBe(false);
  });

  test('every segment starts with PAT, PMT and a keyframe, decodes alone, and is cacheable', async () => {
    const { res, playlist } = await fetchPlaylist();
    expect(playlist.segments.length).toBeGreaterThanOrEqual(2);
    for (const segment of playlist.segments) {
      const s = await fetch(new URL(segment.uri, res.url));
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toBe('video/mp2t');
      expect(s.headers.get('cache-control')).toMatch(/^public, max-age=\d+, immutable$/);
      const bytes = new Uint8Array(await s.arrayBuffer());
      expect(bytes.length % 188).toBe(0);
      expect(segmentOpening(bytes)).toEqual({ startsWithPat: true, pmtBeforeMedia: true, firstMediaIsKeyframe: true });
      expect(await decodeErrors(bytes)).toBe('');
      // Length from the GOP: 25 frames at 25 fps is 1 s, so two GOPs (2 s) per segment.
      expect(segment.duration).toBeCloseTo(2, 1);
    }
  });

  test('fMP4 (CMAF): ?format=hls-fmp4 lists fragments with an init segment; ffprobe reads it; decode times increase', async () => {
    const { res, text } = await eventually('an fMP4 playlist with 3 segments', async () => {
      const r = await fetch(`${playlistUrl()}?format=hls-fmp4&session=main`);
      expect(r.status).toBe(200);
      const t = await r.text();
      return parseMediaPlaylist(t).segments.length >= 3 ? { res: r, text: t } : undefined;
    }, 60_000);
    expect(text).toContain('#EXT-X-VERSION:7');
    const map = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)![1]!;
    const playlist = parseMediaPlaylist(text);
    expect(playlist.segments.every((s) => s.uri.endsWith('.m4s'))).toBe(true);
    const init = await fetch(new URL(map, res.url));
    expect(init.headers.get('content-type')).toBe('video/mp4');
    expect(init.headers.get('cache-control')).toMatch(/immutable/);
    const parts = [new Uint8Array(await init.arrayBuffer())];
    for (const segment of playlist.segments.slice(-3)) {
      const s = await fetch(new URL(segment.uri, res.url));
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toBe('video/iso.segment');
      parts.push(new Uint8Array(await s.arrayBuffer()));
    }
    const times = parts.slice(1).map((p) => fragmentDecodeTimes(p).get(1)!);
    expect(times[1]!).toBeGreaterThan(times[0]!);
    expect(times[2]!).toBeGreaterThan(times[1]!);
    // From a file: ffprobe stops reading an MP4 pipe early.
    const file = `${cluster.temp.dir}/fmp4.mp4`;
    await Bun.write(file, Buffer.concat(parts));
    const probe = Bun.spawn(['ffprobe', '-v', 'error', '-show_streams', '-of', 'json', file], { stdout: 'pipe', stderr: 'pipe' });
    const streams = (JSON.parse(await new Response(probe.stdout).text()) as { streams: { codec_type: string; codec_name: string; width?: number; height?: number }[] }).streams;
    const video = streams.find((s) => s.codec_type === 'video')!;
    expect([video.codec_name, video.width, video.height]).toEqual(['h264', TINY_H264_PROFILE.width, TINY_H264_PROFILE.height]);
    expect(streams.find((s) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    const decode = Bun.spawn(['ffmpeg', '-v', 'error', '-i', file, '-f', 'null', '-'], { stdout: 'ignore', stderr: 'pipe' });
    expect((await new Response(decode.stderr).text()).trim()).toBe('');
    // ffprobe plays the fMP4 playlist URL too, and the stream URL negotiates to it.
    const proc = Bun.spawn(['ffprobe', '-v', 'error', '-show_streams', '-of', 'json', `${playlistUrl()}?format=hls-fmp4`], { stdout: 'pipe', stderr: 'pipe' });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect((JSON.parse(out) as { streams: { codec_name: string }[] }).streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    const redirect = await fetch(`${base}/stream/${VARIANT}?format=hls-fmp4`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`/stream/${VARIANT}.m3u8?format=hls-fmp4`);
  });

  test('negotiation: AppleCoreMedia and Safari get HLS, curl and ffmpeg keep MPEG-TS, ?format= wins', async () => {
    const apple = await fetch(`${base}/stream/${VARIANT}`, { headers: { 'user-agent': APPLE_UA }, redirect: 'manual' });
    expect(apple.status).toBe(302);
    expect(apple.headers.get('location')).toBe(`/stream/${VARIANT}.m3u8`);
    const safari = await fetch(`${base}/stream/${VARIANT}`, {
      headers: { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15' },
      redirect: 'manual',
    });
    expect(safari.status).toBe(302);
    // Following the redirect, an Apple player gets the playlist.
    const followed = await fetch(`${base}/stream/${VARIANT}`, { headers: { 'user-agent': APPLE_UA } });
    expect(followed.headers.get('content-type')).toBe('application/vnd.apple.mpegurl');
    expect(parseMediaPlaylist(await followed.text()).segments.length).toBeGreaterThan(0);

    for (const ua of ['curl/8.5.0', 'Lavf/59.27.100', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36']) {
      const ts = await fetch(`${base}/stream/${VARIANT}`, { headers: { 'user-agent': ua } });
      expect(ts.status).toBe(200);
      expect(ts.headers.get('content-type')).toBe('video/mp2t');
      const bytes = await readBytes(ts.body!, 64 * 1024);
      expect((await ffprobeBytes(bytes)).formatName).toBe('mpegts');
    }
    const forcedTs = await fetch(`${base}/stream/${VARIANT}?format=ts`, { headers: { 'user-agent': APPLE_UA } });
    expect(forcedTs.headers.get('content-type')).toBe('video/mp2t');
    await forcedTs.body!.cancel();
    const forcedHls = await fetch(`${base}/stream/${VARIANT}?format=hls`, { redirect: 'manual' });
    expect(forcedHls.status).toBe(302);

    // MPEG-2 video fits MPEG-TS (VLC, tuner apps) but no HLS player decodes it: an Apple
    // player keeps MPEG-TS rather than get HLS it cannot play, and asking for HLS is refused.
    await cluster.createProfile({ ...TINY_H264_PROFILE, id: 'mpeg2-240p', videoCodec: 'mpeg2video', preset: null });
    const refused = await fetch(`${base}/stream/pattern/mpeg2-240p?format=hls`);
    expect(refused.status).toBe(406);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error.message).toContain('mpeg2video');
    const appleMpeg2 = await fetch(`${base}/stream/pattern/mpeg2-240p`, { headers: { 'user-agent': APPLE_UA }, redirect: 'manual' });
    expect(appleMpeg2.status).toBe(200);
    expect(appleMpeg2.headers.get('content-type')).toBe('video/mp2t');
    await appleMpeg2.body!.cancel();
  });

  test('/playlist.m3u?format=hls lists .m3u8 URLs; the default still lists MPEG-TS URLs', async () => {
    const hls = await (await fetch(`${base}/playlist.m3u?format=hls`)).text();
    expect(hls).toContain(`/stream/${VARIANT}.m3u8\n`);
    const ts = await (await fetch(`${base}/playlist.m3u`)).text();
    expect(ts).toContain(`/stream/${VARIANT}\n`);
    expect(ts).not.toContain('.m3u8');
  });

  test('bad input: malformed format 400, unknown or expired segments 404, a variant that cannot start 503 like its stream URL', async () => {
    for (const url of [`${base}/stream/${VARIANT}?format=webm`, `${base}/stream/${VARIANT}.m3u8?format=ts`, `${base}/playlist.m3u?format=webm`]) {
      const res = await fetch(url);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; field?: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.field).toBe('query.format');
    }
    const { res, playlist } = await fetchPlaylist();
    const last = playlist.segments.at(-1)!;
    const epoch = last.uri.split('/').at(-1)!.split('-')[0]!;
    const cases = [
      `${TINY_H264_PROFILE.id}/${epoch}-${last.sequence + 1000}.ts`, // not produced
      `${TINY_H264_PROFILE.id}/${epoch}-0.ts`, // long gone from the window
      `${TINY_H264_PROFILE.id}/zzzz0000-${last.sequence}.ts`, // another run
      `${TINY_H264_PROFILE.id}/..%2F..%2Fetc%2Fpasswd`,
    ];
    // Segment 0 has left the window only after 10 segments; wait for the window to slide that far.
    await eventually('the window to slide past segment 0', async () => (await fetchPlaylist()).playlist.mediaSequence > 10, 60_000);
    for (const path of cases) {
      const s = await fetch(new URL(path, res.url));
      expect(s.status).toBe(404);
      expect(((await s.json()) as { error: { code: string } }).error.code).toBe('not_found');
    }
    const stream = await fetch(`${base}/stream/pattern/h264-gpu`);
    const list = await fetch(`${base}/stream/pattern/h264-gpu.m3u8`);
    expect(stream.status).toBe(503);
    expect(list.status).toBe(stream.status);
    expect(await list.json()).toEqual(await stream.json());
    const unknown = await fetch(`${base}/stream/nope/${TINY_H264_PROFILE.id}.m3u8`);
    expect(unknown.status).toBe(404);
  });

  test('HLS viewers count as clients: /api/variants by format, the client limit, and leaving after a few segment durations', async () => {
    // Fill the variant up to its limit with HLS sessions (the main session is one already).
    let admitted = 0;
    let refused: Response | null = null;
    for (let i = 0; i <= MAX_PER_VARIANT && !refused; i++) {
      const res = await fetch(`${playlistUrl()}?session=extra${i}`);
      if (res.status === 200) {
        admitted++;
        await res.body?.cancel();
      } else refused = res;
    }
    expect(admitted).toBeGreaterThan(0);
    expect(refused?.status).toBe(503);
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('no_capacity');
    const { body } = await cluster.coordinator.api<VariantsView>('/api/variants');
    const live = body.live.find((v) => v.variant === VARIANT)!;
    expect(live.clients).toBe(MAX_PER_VARIANT);
    expect(live.viewers).toEqual({ ts: 0, hls: MAX_PER_VARIANT });
    // A TS client is refused too: the HLS viewers fill the variant.
    expect((await fetch(`${base}/stream/${VARIANT}`)).status).toBe(503);

    // Nobody fetches any more: the viewers leave, then the idle grace stops the variant.
    const seen = cluster.coordinator.proc.lines.length;
    await cluster.coordinator.proc.waitForLog((l) => l.msg === 'hls variant stopped' && l.reason === 'no HLS viewers left', 30_000, seen);
    await eventually('the variant to stop after the idle grace', async () => {
      const { body: after } = await cluster.coordinator.api<VariantsView>('/api/variants');
      return !after.live.some((v) => v.variant === VARIANT) && after.recentlyEnded.some((e) => e.variant === VARIANT && e.reason === 'no clients left');
    });
    // And a new playlist request starts it again, with segments from a new run.
    const { playlist } = await fetchPlaylist('again');
    expect(playlist.segments.length).toBeGreaterThan(0);
  });
});
