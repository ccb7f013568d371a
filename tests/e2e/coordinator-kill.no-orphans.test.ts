// A coordinator that dies (SIGKILL: no cleanup code runs) leaves none of its processes
// behind: its source FFmpegs (the test pattern, and an HLS source read through FFmpeg) end
// within 2 s, with a client on each source at the time of death.
//
// The HLS provider here publishes no new segment while the test runs, as a live source does
// between segments (6-10 s target durations are common) or when it stalls: its FFmpeg has
// nothing to write, so a broken output pipe alone would never tell it that the coordinator
// is gone. Only a kernel parent-death signal (common/spawn-guard.ts) ends it in time.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { eventually } from '../helpers/processes';

interface Proc {
  pid: number;
  cmd: string;
}

function stat(pid: number): { ppid: number; state: string } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** Alive = exists and is not a zombie (an orphan's new parent may never reap it). */
function isAlive(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

function childrenOf(ppid: number): Proc[] {
  const out: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (stat(pid)?.ppid !== ppid) continue;
    try {
      out.push({ pid, cmd: fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim() });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A live HLS playlist (no ENDLIST) of three 2 s segments that never gets a fourth. */
async function startStalledHlsProvider(dir: string): Promise<{ url: string; requests: string[]; stop(): void }> {
  const gen = Bun.spawn(
    [
      'ffmpeg', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '6', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k',
      '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', '-hls_segment_filename', `${dir}/seg%d.ts`, `${dir}/made.m3u8`,
    ],
    { stdout: 'ignore', stderr: 'pipe' },
  );
  if ((await gen.exited) !== 0) throw new Error(`ffmpeg could not make the HLS segments: ${await new Response(gen.stderr).text()}`);
  const requests: string[] = [];
  const playlist = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:0'];
  for (let i = 0; i < 3; i++) playlist.push('#EXTINF:2.000000,', `seg${i}.ts`);
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const name = new URL(req.url).pathname.slice(1);
      requests.push(name);
      if (requests.length > 10_000) requests.shift();
      if (name === 'live.m3u8') return new Response(playlist.join('\n') + '\n', { headers: { 'content-type': 'application/vnd.apple.mpegurl' } });
      if (/^seg[0-2]\.ts$/.test(name)) return new Response(Bun.file(`${dir}/${name}`), { headers: { 'content-type': 'video/mp2t' } });
      return new Response('not found', { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/live.m3u8`, requests, stop: () => server.stop(true) };
}

/** A client that keeps reading; `flowing` resolves once it got MPEG-TS. */
function client(url: string): { flowing: Promise<void>; close(): void } {
  const controller = new AbortController();
  const flowing = (async () => {
    const res = await fetch(url, { signal: controller.signal });
    if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
    const reader = res.body!.getReader();
    let bytes = 0;
    let signalled = false;
    let resolveFirst!: () => void;
    const first = new Promise<void>((r) => (resolveFirst = r));
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        if (!signalled && bytes >= 188 * 50) {
          signalled = true;
          resolveFirst();
        }
      }
    })().catch(() => {});
    await first;
  })();
  return { flowing, close: () => controller.abort() };
}

describe('a SIGKILLed coordinator leaves no process behind', () => {
  const cluster = new TestCluster();
  let hls: Awaited<ReturnType<typeof startStalledHlsProvider>>;
  const clients: { close(): void }[] = [];
  let recorded: Proc[] = [];

  beforeAll(async () => {
    hls = await startStalledHlsProvider(cluster.temp.dir);
    await cluster.startCoordinator();
    await cluster.startWorker('w1');
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    await cluster.createSource('hls', hls.url);
    await cluster.createProfile(TINY_H264_PROFILE);
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const p of recorded) if (isAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
    hls?.stop();
    await cluster.stop();
  });

  test('with a client on the test pattern and on an HLS source, both source FFmpegs end within 2 s of its death', async () => {
    const coordinatorPid = cluster.coordinator.proc.pid;
    for (const source of ['pattern', 'hls']) {
      const c = client(`${cluster.coordinator.httpUrl}/stream/${source}/${TINY_H264_PROFILE.id}`);
      clients.push(c);
      await c.flowing;
    }
    // Every segment the provider has was fetched: from now on the HLS FFmpeg has nothing new to write.
    await eventually('the HLS FFmpeg to fetch the last segment', () => hls.requests.includes('seg2.ts'));

    recorded = childrenOf(coordinatorPid);
    const ffmpegs = recorded.filter((p) => /(^|\/)ffmpeg /.test(p.cmd));
    expect(ffmpegs.find((p) => p.cmd.includes('testsrc='))).toBeDefined();
    expect(ffmpegs.find((p) => p.cmd.includes(hls.url))).toBeDefined();
    for (const p of recorded) expect(isAlive(p.pid)).toBe(true);

    cluster.coordinator.proc.kill('SIGKILL');
    await cluster.coordinator.proc.exited;
    const deadline = Date.now() + 2000;
    while (recorded.some((p) => isAlive(p.pid)) && Date.now() < deadline) await Bun.sleep(20);
    expect(recorded.filter((p) => isAlive(p.pid)).map((p) => `${p.pid} ${p.cmd}`)).toEqual([]);
  }, 120_000);
});
