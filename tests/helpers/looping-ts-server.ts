// A live-like HTTP MPEG-TS source for tests: serves one file in a loop, paced at about
// real time, to any number of clients; counts connections.
import { readFileSync } from 'node:fs';

export interface LoopingTsServer {
  url: string;
  port: number;
  readonly connections: number;
  /** Responses still being streamed (a client that went away is counted out). */
  readonly open: number;
  stop(): void;
}

/** `port`: listen on this port (a source that comes back where it was); 0 picks a free one. */
export function startLoopingTsServer(path: string, clipSeconds = 2, opts: { port?: number } = {}): LoopingTsServer {
  const data = readFileSync(path);
  const bytesPerSecond = data.byteLength / clipSeconds;
  const chunk = 188 * 20;
  const intervalMs = Math.max(5, Math.round((chunk / bytesPerSecond) * 1000));
  let connections = 0;
  let open = 0;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: opts.port ?? 0,
    fetch() {
      connections += 1;
      open += 1;
      let offset = 0;
      let timer: ReturnType<typeof setInterval> | undefined;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          timer = setInterval(() => {
            const end = Math.min(offset + chunk, data.byteLength);
            controller.enqueue(data.subarray(offset, end));
            offset = end >= data.byteLength ? 0 : end;
          }, intervalMs);
        },
        cancel() {
          clearInterval(timer);
          open -= 1;
        },
      });
      return new Response(body, { headers: { 'content-type': 'video/mp2t' } });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/live.ts`,
    port: server.port!,
    get connections() {
      return connections;
    },
    get open() {
      return open;
    },
    stop: () => server.stop(true),
  };
}
