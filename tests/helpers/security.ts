// Shared pieces of the security suites: a client that keeps watching a live stream (so
// each hostile act can be followed by "existing streams still flow"), a scripted gRPC
// peer built from the proto contract, and a snapshot of what the database holds.
import * as grpc from '@grpc/grpc-js';
import { AUTH_METADATA_KEY, WORKER_ID_METADATA_KEY, loadTranscodeProto } from '../../proto/load';
import type { TranscodeCoordinatorClient } from '../../proto/gen/tvarr/transcode/v1/TranscodeCoordinator';
import type { CoordinatorHandle } from './cluster';
import { eventually } from './processes';

const PACKET = 188;

/** Reads a live MPEG-TS response for as long as the test runs, checking every sync byte. */
export class StreamWatcher {
  bytes = 0;
  syncErrors = 0;
  /** Packets on PIDs the transcode never produces (e.g. a hostile peer's marker PID). */
  readonly foreignPids = new Map<number, number>();
  private ended = false;
  private endReason = '';
  private readonly controller = new AbortController();
  private readonly done: Promise<void>;
  private header = new Uint8Array(4);
  private headerFill = 0;
  private offsetInPacket = 0;

  private constructor(res: Response, private readonly allowedPids: Set<number>) {
    this.done = this.pump(res.body!);
  }

  static async open(url: string, allowedPids = [0x0000, 0x0011, 0x1000, 0x0100, 0x0101, 0x1fff]): Promise<StreamWatcher> {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`stream ${url}: HTTP ${res.status} ${await res.text()}`);
    return new StreamWatcher(res, new Set(allowedPids));
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const reader = body.getReader();
    this.controller.signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        this.scan(value);
        this.bytes += value.byteLength;
      }
      this.endReason = 'body ended';
    } catch (err) {
      this.endReason = String(err);
    }
    this.ended = true;
  }

  private scan(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.byteLength; ) {
      if (this.offsetInPacket < 4) {
        this.header[this.headerFill++] = chunk[i]!;
        this.offsetInPacket++;
        i++;
        if (this.headerFill === 4) {
          if (this.header[0] !== 0x47) this.syncErrors++;
          const pid = ((this.header[1]! & 0x1f) << 8) | this.header[2]!;
          if (!this.allowedPids.has(pid)) this.foreignPids.set(pid, (this.foreignPids.get(pid) ?? 0) + 1);
          this.headerFill = 0;
        }
        continue;
      }
      const take = Math.min(PACKET - this.offsetInPacket, chunk.byteLength - i);
      i += take;
      this.offsetInPacket += take;
      if (this.offsetInPacket === PACKET) this.offsetInPacket = 0;
    }
  }

  /** Waits until at least `more` new bytes have arrived; fails if the stream ended. */
  async expectFlowing(more = 20_000, timeoutMs = 30_000): Promise<void> {
    const target = this.bytes + more;
    await eventually(
      `${more} more stream bytes (have ${this.bytes})`,
      () => {
        if (this.ended) throw new Error(`the existing client stream ended: ${this.endReason}`);
        return this.bytes >= target;
      },
      timeoutMs,
    );
    if (this.syncErrors > 0) throw new Error(`${this.syncErrors} packets without the 0x47 sync byte`);
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}

/** What must not change under hostile input: catalog rows and the job history. */
export async function snapshotDb(coordinator: CoordinatorHandle): Promise<{
  sources: unknown[];
  profiles: unknown[];
  jobs: { id: string; state: string; attempt: number; workerId: string | null; sourceId: string }[];
}> {
  const [sources, profiles, jobs] = await Promise.all([
    coordinator.api<unknown[]>('/api/sources'),
    coordinator.api<unknown[]>('/api/profiles'),
    coordinator.api<{ id: string; state: string; attempt: number; workerId: string | null; sourceId: string }[]>('/api/jobs?limit=1000'),
  ]);
  return {
    // The stored rows only: `status` is the live upstream's state (URLs, events), not the database.
    sources: (sources.body as Record<string, unknown>[]).map(({ status: _status, ...row }) => row),
    profiles: profiles.body,
    jobs: jobs.body.map(({ id, state, attempt, workerId, sourceId }) => ({ id, state, attempt, workerId, sourceId })).sort((a, b) => a.id.localeCompare(b.id)),
  };
}

export function grpcClient(address: string, credentials = grpc.credentials.createInsecure()): TranscodeCoordinatorClient {
  const { TranscodeCoordinator } = loadTranscodeProto().tvarr.transcode.v1;
  return new TranscodeCoordinator(address, credentials);
}

export function peerMetadata(workerId: string, token?: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set(AUTH_METADATA_KEY, `Bearer ${token}`);
  md.set(WORKER_ID_METADATA_KEY, workerId);
  return md;
}

/** Resolves with the status a call ends with (error or clean end). */
export function callStatus<Req, Res>(call: grpc.ClientDuplexStream<Req, Res>): Promise<{ code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    call.on('data', () => {});
    call.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, details: err.details }));
    call.on('status', (s: grpc.StatusObject) => {
      if (s.code === grpc.status.OK) resolve({ code: s.code, details: s.details });
    });
  });
}

/** An MPEG-TS packet on a PID the coordinator never produces, to spot leaked bytes. */
export function markerPackets(count: number, pid = 0x1abc): Buffer {
  const buf = Buffer.alloc(PACKET * count, 0xff);
  for (let i = 0; i < count; i++) {
    const o = i * PACKET;
    buf[o] = 0x47;
    buf[o + 1] = 0x40 | ((pid >> 8) & 0x1f);
    buf[o + 2] = pid & 0xff;
    buf[o + 3] = 0x10 | (i & 0x0f);
    buf.write('STOLEN', o + 4);
  }
  return buf;
}
