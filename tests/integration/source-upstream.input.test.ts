// The upstream side of a source with real HTTP servers: one connection shared by
// subscribers, whole MPEG-TS packets only, and a clear error for a source that is
// not MPEG-TS or does not answer.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createLogger, setLogLevel } from '../../common/log';
import { AppError } from '../../coordinator/errors';
import { SourceUpstream } from '../../coordinator/streams/source-upstream';
import { makeTempDir, makeTestClip } from '../helpers/media';
import { startLoopingTsServer, type LoopingTsServer } from '../helpers/looping-ts-server';

setLogLevel('silent');
const log = createLogger('test');

function upstream(url: string, timeoutMs = 3000): SourceUpstream {
  return new SourceUpstream('src', url, { ffmpegPath: 'ffmpeg', timeoutMs, queueBytes: 1 << 20, idleGraceMs: 0, log, onStopped: () => {} });
}

describe('source upstream', () => {
  const temp = makeTempDir('upstream');
  let ts: LoopingTsServer;
  const servers: { stop(force?: boolean): void }[] = [];

  beforeAll(async () => {
    await makeTestClip(`${temp.dir}/clip.ts`, 2);
    ts = startLoopingTsServer(`${temp.dir}/clip.ts`);
  });
  afterAll(() => {
    ts.stop();
    for (const s of servers) s.stop(true);
    temp.cleanup();
  });

  test('two subscribers share one HTTP connection and get whole 188-byte packets', async () => {
    const up = upstream(ts.url);
    const before = ts.connections;
    await up.ensureStarted();
    const a = up.subscribe();
    const b = up.subscribe();
    let bytes = 0;
    while (bytes < 50_000) {
      const [ca, cb] = await Promise.all([a.next(), b.next()]);
      for (const c of [ca!, cb!]) {
        expect(c.byteLength % 188).toBe(0);
        expect(c[0]).toBe(0x47);
      }
      bytes += ca!.byteLength;
    }
    expect(ts.connections - before).toBe(1);
    a.close();
    b.close();
    up.stop();
  });

  test('a source that answers with something other than MPEG-TS fails with a clear error', async () => {
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: () =>
        new Response(
          new ReadableStream({
            pull: async (c) => {
              await Bun.sleep(20);
              c.enqueue(new TextEncoder().encode('<html>not a stream</html>'.repeat(50)));
            },
          }),
        ),
    });
    servers.push(server);
    const up = upstream(`http://127.0.0.1:${server.port}/`, 800);
    const err = await up.ensureStarted().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('unavailable');
    expect((err as AppError).message).toContain('no MPEG-TS within 800 ms');
  });

  test('an HTTP error status is named in the error', async () => {
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('gone', { status: 404 }) });
    servers.push(server);
    const err = await upstream(`http://127.0.0.1:${server.port}/x.ts`).ensureStarted().catch((e: unknown) => e);
    expect((err as AppError).message).toContain('HTTP 404');
  });
});
