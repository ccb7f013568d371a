// The source policy against real FFmpeg and real HTTP servers: which URLs may be stored,
// the -protocol_whitelist FFmpeg runs with, redirects only to http(s), secrets masked.
import { afterAll, describe, expect, test } from 'bun:test';
import { openSourceInput } from '../../coordinator/streams/source-input';
import { ffmpegProtocolWhitelist, fetchSourceUrl, maskSecrets, sourceUrlProblem } from '../../coordinator/streams/source-policy';
import { makeTempDir } from '../helpers/media';

const temp = makeTempDir('source-policy');
const servers: ReturnType<typeof Bun.serve>[] = [];
afterAll(() => {
  for (const s of servers) s.stop(true);
  temp.cleanup();
});

/** Reads a source input until it ends; returns its bytes and failure text. */
async function drain(url: string, sourceSchemes: string[]): Promise<{ bytes: number; failure: string }> {
  const input = await openSourceInput(url, { ffmpegPath: 'ffmpeg', timeoutMs: 5000, sourceSchemes });
  let bytes = 0;
  const reader = input.readable.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
  }
  // stderr is read asynchronously: give it the moment it needs after stdout ended.
  for (let i = 0; i < 100 && !input.describeFailure().includes('whitelist') && bytes === 0; i++) await Bun.sleep(20);
  input.close();
  return { bytes, failure: input.describeFailure() };
}

describe('source policy', () => {
  test('http(s) and testpattern: by default; other FFmpeg inputs only when listed', () => {
    for (const url of ['http://192.168.1.10:5004/auto/v1', 'https://iptv.example/live.ts', 'http://127.0.0.1/x.m3u8', 'testpattern:?size=320x240']) {
      expect(sourceUrlProblem(url, [])).toBeNull();
    }
    for (const url of ['file:/etc/passwd', 'FILE:///etc/shadow', 'udp://0.0.0.0:1234', 'rtp://1.2.3.4:5', 'srt://h:1', 'rtsp://cam/1', 'rtmp://h/live']) {
      expect(sourceUrlProblem(url, [])).toContain('TVARR_SOURCE_SCHEMES');
    }
    expect(sourceUrlProblem('file:/srv/a.ts', ['file'])).toBeNull();
    expect(sourceUrlProblem('rtsp://cam/1', ['file'])).toContain('TVARR_SOURCE_SCHEMES=rtsp');
    for (const url of ['ftp://h/x', 'concat:a|b', 'subfile,,start,0,end,0,,:/etc/passwd', '/etc/passwd', 'data:,x']) {
      expect(sourceUrlProblem(url, ['file', 'udp', 'rtsp'])).toContain('unsupported scheme');
    }
  });

  test('the whitelist names only what the scheme needs; a refused URL gets none', () => {
    expect(ffmpegProtocolWhitelist('http://h/x.m3u8', [])).toBe('http,https,tcp,tls,crypto');
    expect(ffmpegProtocolWhitelist('file:/srv/a.ts', ['file'])).toBe('file');
    expect(ffmpegProtocolWhitelist('rtsp://cam/1', ['rtsp'])).toBe('rtsp,rtp,udp,tcp');
    expect(ffmpegProtocolWhitelist('file:/etc/passwd', [])).toBe('none');
  });

  const clip = `${temp.dir}/clip.ts`;

  test('FFmpeg cannot open a file the policy refuses, even if such a URL is already stored', async () => {
    const made = Bun.spawnSync(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=64x64:rate=5', '-t', '1', '-f', 'mpegts', clip]);
    expect(made.exitCode).toBe(0);
    const refused = await drain(`file:${clip}`, []);
    expect(refused.bytes).toBe(0);
    expect(refused.failure).toContain('whitelist');
    const allowed = await drain(`file:${clip}`, ['file']);
    expect(allowed.bytes).toBeGreaterThan(1000);
  });

  test('redirects are followed to http(s) only', async () => {
    const target = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('payload') });
    const redirector = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => {
        const path = new URL(req.url).pathname;
        if (path === '/to-file') return new Response(null, { status: 302, headers: { location: 'file:///etc/passwd' } });
        if (path === '/loop') return new Response(null, { status: 302, headers: { location: '/loop' } });
        return new Response(null, { status: 301, headers: { location: `http://127.0.0.1:${target.port}/x` } });
      },
    });
    servers.push(target, redirector);
    const ok = await fetchSourceUrl(`http://127.0.0.1:${redirector.port}/to-http`, {});
    expect(await ok.text()).toBe('payload');
    expect(fetchSourceUrl(`http://127.0.0.1:${redirector.port}/to-file`, {})).rejects.toThrow('redirect to a file URL refused');
    expect(fetchSourceUrl(`http://127.0.0.1:${redirector.port}/loop`, {})).rejects.toThrow('more than 5 redirects');
  });

  test('credentials are masked wherever the URL appears', () => {
    const url = 'http://user:s3cret-pw@iptv.example/live.m3u8?token=abcd1234&x=1';
    const ffmpegError = `${url}: Server returned 403 Forbidden (access denied)`;
    const masked = maskSecrets(ffmpegError, url);
    expect(masked).toBe('http://user:***@iptv.example/live.m3u8?token=***&x=***: Server returned 403 Forbidden (access denied)');
    // FFmpeg sometimes prints a decoded or partial form: the known secrets go too.
    expect(maskSecrets('auth failed for s3cret-pw, token abcd1234', url)).toBe('auth failed for ***, token ***');
  });
});
