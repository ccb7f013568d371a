// Hostile input on every interface of a live coordinator process, while a client keeps
// streaming from a real worker. After each attack: the existing stream still flows and
// the database holds what it held (catalog rows, job history).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { TestCluster, TINY_H264_PROFILE, TINY_PATTERN_URL } from '../helpers/cluster';
import { eventually } from '../helpers/processes';
import { snapshotDb, StreamWatcher } from '../helpers/security';

const TOKEN = 'hostile-token-0123456789';
const SERVICE = '/tvarr.transcode.v1.TranscodeCoordinator';

interface Snapshot {
  sources: unknown[];
  profiles: unknown[];
  jobs: { id: string; state: string; attempt: number; workerId: string | null; sourceId: string }[];
}

/** One gRPC request by hand over HTTP/2; resolves with the grpc-status (or the HTTP status if none). */
function rawGrpc(address: string, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ grpcStatus: number | null; httpStatus: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => {});
    const req = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${TOKEN}`,
      'x-worker-id': 'raw-peer',
      ...headers,
    });
    let httpStatus = 0;
    let grpcStatus: number | null = null;
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) grpcStatus = Number(h['grpc-status']);
    };
    req.on('response', (h) => {
      httpStatus = Number(h[':status']);
      take(h);
    });
    req.on('trailers', take);
    req.on('data', () => {});
    req.on('error', () => {});
    req.on('close', () => {
      session.close();
      resolve({ grpcStatus, httpStatus });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function frame(payload: Buffer, declaredLength = payload.byteLength, compressed = 0): Buffer {
  const header = Buffer.alloc(5);
  header[0] = compressed;
  header.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([header, payload]);
}

describe('hostile input', () => {
  const cluster = new TestCluster({
    env: {
      TVARR_GRPC_AUTH_TOKEN: TOKEN,
      TVARR_AUTH_TOKEN: TOKEN,
      TVARR_UPSTREAM_TIMEOUT_MS: '4000', // the test pattern's FFmpeg needs ~2 s to its first packet on a loaded 2-core host
      TVARR_MAX_ATTEMPTS: '2',
      TVARR_RETRY_BACKOFF_MS: '100',
    },
  });
  let watcher: StreamWatcher;
  let baseline: Snapshot;
  let upstream: ReturnType<typeof Bun.serve>;
  const hanging: (() => void)[] = [];

  beforeAll(async () => {
    await cluster.startCoordinator();
    await cluster.startWorker('w1', { TVARR_MAX_CPU_JOBS: '3', TVARR_MAX_JOBS: '3' });
    // A misbehaving upstream: random bytes, headers then silence, or no answer at all.
    upstream = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === '/garbage') {
          let timer: ReturnType<typeof setInterval>;
          return new Response(
            new ReadableStream<Uint8Array>({
              start(c) {
                timer = setInterval(() => c.enqueue(crypto.getRandomValues(new Uint8Array(4096))), 20);
              },
              cancel() {
                clearInterval(timer);
              },
            }),
            { headers: { 'content-type': 'video/mp2t' } },
          );
        }
        if (path === '/stall') return new Response(new ReadableStream({ start() {} }), { headers: { 'content-type': 'video/mp2t' } });
        return new Promise<Response>((resolve) => hanging.push(() => resolve(new Response('late'))));
      },
    });
    await cluster.createSource('pattern', TINY_PATTERN_URL);
    for (const name of ['garbage', 'stall', 'hang']) await cluster.createSource(name, `http://127.0.0.1:${upstream.port}/${name}`);
    await cluster.createProfile(TINY_H264_PROFILE);
    watcher = await StreamWatcher.open(`${cluster.coordinator.httpUrl}/stream/pattern/h264-240p`);
    await watcher.expectFlowing();
    baseline = await snapshotDb(cluster.coordinator);
  });

  afterAll(async () => {
    await watcher?.close();
    for (const h of hanging) h();
    upstream?.stop(true);
    await cluster.stop();
  });

  /** Still serving, and nothing in the database changed except jobs of the hostile sources. */
  async function expectUnharmed(allowJobsFor: string[] = []): Promise<void> {
    await watcher.expectFlowing();
    const now = await snapshotDb(cluster.coordinator);
    expect(now.sources).toEqual(baseline.sources);
    expect(now.profiles).toEqual(baseline.profiles);
    const before = new Map(baseline.jobs.map((j) => [j.id, j]));
    for (const j of now.jobs) {
      if (before.has(j.id)) expect(j).toEqual(before.get(j.id)!);
      else expect(allowJobsFor).toContain(j.sourceId);
    }
    expect(now.jobs.filter((j) => before.has(j.id))).toHaveLength(baseline.jobs.length);
  }

  test('every /api write route: malformed, oversized, wrong types, unknown fields, huge strings, traversal ids', async () => {
    const spec = (await (await fetch(`${cluster.coordinator.httpUrl}/openapi/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const ids = ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e%2f%2e%2e%2fpattern', 'pattern%00', 'x'.repeat(5000), '%2Fpattern', "pattern'--"];
    const bodies: [string, string][] = [
      ['malformed', '{"id": "x", "name": '],
      ['not an object', '[1,2,3]'],
      ['null', 'null'],
      ['wrong types', JSON.stringify({ id: 5, name: [], url: {}, videoCodec: 7, width: 'wide', hotStandby: 'yes' })],
      ['unknown fields', JSON.stringify({ ...TINY_H264_PROFILE, id: 'evil', url: 'testpattern:', __proto__x: 1, constructor: { prototype: {} } })],
      ['huge strings', JSON.stringify({ id: 'huge', name: 'n'.repeat(200_000), url: `http://x/${'a'.repeat(200_000)}` })],
      ['oversized', JSON.stringify({ id: 'big', name: 'x', url: 'testpattern:', pad: 'p'.repeat(2 << 20) })],
      ['deep nesting', '['.repeat(100_000) + ']'.repeat(100_000)],
    ];
    const failures: string[] = [];
    let requests = 0;
    for (const [path, methods] of Object.entries(spec.paths)) {
      if (!path.startsWith('/api')) continue;
      for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
        const targets = path.includes('{') ? ids.map((id) => path.replace(/\{[^}]+\}/g, id)) : [path];
        for (const target of targets) {
          const variants: [string, string | undefined][] = method === 'GET' || method === 'DELETE' ? [['no body', undefined]] : bodies;
          for (const [label, body] of variants) {
            requests++;
            // With the admin token: the validation behind the token is what is under attack here.
            const res = await fetch(cluster.coordinator.httpUrl + target, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.coordinator.adminToken}` }, body });
            const text = await res.text();
            // Valid writes on real resources are impossible here: every id is hostile and every body invalid.
            if (res.status < 400 && !(method === 'GET' && !path.includes('{'))) failures.push(`${method} ${target.slice(0, 80)} (${label}): ${res.status}`);
            if (res.status >= 500) failures.push(`${method} ${target.slice(0, 80)} (${label}): ${res.status} ${text.slice(0, 200)}`);
            if (res.status >= 400 && res.status !== 413 && !text.startsWith('{"error"')) failures.push(`${method} ${target.slice(0, 80)} (${label}): ${res.status} non-JSON error ${text.slice(0, 80)}`);
          }
        }
      }
    }
    expect(requests).toBeGreaterThan(50);
    expect(failures).toEqual([]);
    await expectUnharmed();
  });

  test('query strings and stream paths with hostile values', async () => {
    for (const path of [
      '/api/jobs?limit=-1',
      '/api/jobs?limit=1e309',
      '/api/jobs?state=../../etc',
      `/api/jobs?workerId=${'w'.repeat(10_000)}`,
      '/stream/..%2F..%2Fetc%2Fpasswd/h264-240p',
      '/stream/pattern/..%2Fh264-240p',
      `/stream/${'s'.repeat(5000)}/h264-240p`,
    ]) {
      const res = await fetch(cluster.coordinator.httpUrl + path);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      await res.text();
    }
    await expectUnharmed();
  });

  test('gRPC port: malformed protobuf, lying and oversized frames, unknown methods, wrong content type', async () => {
    const address = cluster.coordinator.grpcAddress;
    const garbage = Buffer.from(crypto.getRandomValues(new Uint8Array(64)));
    const run = async (label: string, p: Promise<{ grpcStatus: number | null; httpStatus: number }>, ok: (r: { grpcStatus: number | null; httpStatus: number }) => boolean) => {
      const r = await p;
      if (!ok(r)) throw new Error(`${label}: unexpected ${JSON.stringify(r)}`);
    };
    const notOk = (r: { grpcStatus: number | null; httpStatus: number }) => r.grpcStatus !== 0;
    for (const method of ['Control', 'JobStream']) {
      await run(`${method} malformed protobuf`, rawGrpc(address, `${SERVICE}/${method}`, frame(garbage)), notOk);
      await run(`${method} frame claims 100 MiB`, rawGrpc(address, `${SERVICE}/${method}`, frame(garbage, 100 << 20)), notOk);
      await run(
        `${method} 5 MiB message`,
        rawGrpc(address, `${SERVICE}/${method}`, frame(Buffer.alloc(5 << 20, 0x12))),
        (r) => r.grpcStatus === 8 || (r.grpcStatus !== null && r.grpcStatus !== 0),
      );
      await run(`${method} compressed flag without encoding`, rawGrpc(address, `${SERVICE}/${method}`, frame(garbage, garbage.byteLength, 1)), notOk);
      // A partial frame header then end-of-stream: no message was delivered; any status will do.
      await run(`${method} truncated header`, rawGrpc(address, `${SERVICE}/${method}`, Buffer.from([0, 0, 0])), () => true);
    }
    await run('unknown method', rawGrpc(address, `${SERVICE}/Nope`, frame(garbage)), (r) => r.grpcStatus === 12);
    await run('unknown service', rawGrpc(address, '/../../etc/passwd', frame(garbage)), (r) => r.grpcStatus !== 0);
    await run('JSON instead of protobuf', rawGrpc(address, `${SERVICE}/Control`, Buffer.from('{"register":{}}'), { 'content-type': 'application/json' }), notOk);

    // Not HTTP/2 at all: a raw TCP client writes junk and leaves.
    await new Promise<void>((resolve) => {
      const [host, port] = address.split(':');
      const socket = net.connect(Number(port), host!, () => {
        socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), garbage, Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), garbage]));
      });
      socket.on('data', () => {});
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.setTimeout(5000, () => socket.destroy());
    });
    await expectUnharmed();
  });

  test('an upstream that stalls after its headers, or never answers: a clear error, nothing else changes', async () => {
    for (const name of ['stall', 'hang']) {
      const res = await fetch(`${cluster.coordinator.httpUrl}/stream/${name}/h264-240p`);
      const text = await res.text();
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(JSON.parse(text).error.message.length).toBeGreaterThan(0);
    }
    await expectUnharmed(['stall', 'hang']);
  });

  test('an upstream that sends garbage: nothing but MPEG-TS reaches its client, the other stream is unharmed', async () => {
    const controller = new AbortController();
    const res = await fetch(`${cluster.coordinator.httpUrl}/stream/garbage/h264-240p`, { signal: controller.signal });
    if (res.status === 200) {
      // FFmpeg on the worker finds nothing to decode in random bytes. Whatever the variant
      // does (fails, retries, waits), its client may only ever see whole 188-byte TS packets.
      const garbageClient = new StreamWatcherOf(res);
      await eventually('a job for the garbage source', async () => {
        const jobs = await cluster.coordinator.api<{ sourceId: string }[]>('/api/jobs?limit=1000');
        return jobs.body.some((j) => j.sourceId === 'garbage');
      });
      await watcher.expectFlowing(100_000);
      controller.abort();
      await garbageClient.done;
      expect(garbageClient.syncErrors).toBe(0);
    } else {
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(((await res.json()) as { error: { message: string } }).error.message.length).toBeGreaterThan(0);
    }
    await expectUnharmed(['garbage', 'stall', 'hang']);
  });
});

/** Counts packets without a sync byte on a response that may carry nothing at all. */
class StreamWatcherOf {
  syncErrors = 0;
  readonly done: Promise<void>;
  constructor(res: Response) {
    this.done = (async () => {
      let offset = 0;
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          for (let i = (188 - offset) % 188; i < chunk.byteLength; i += 188) if (chunk[i] !== 0x47) this.syncErrors++;
          offset = (offset + chunk.byteLength) % 188;
        }
      } catch {
        // aborted
      }
    })();
  }
}
