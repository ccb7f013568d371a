// One gRPC client per coordinator address, shared by the control stream and the
// single-call job streams to that coordinator (one HTTP/2 connection, as with a single
// coordinator), and closed once neither uses it. A coordinator dialled again later gets a
// fresh channel rather than one still waiting out grpc-js's own reconnect backoff, so the
// worker's round-by-round backoff is the only one.
import type { CoordinatorTarget } from './coordinator-rotation';
import type { CoordinatorClient, CreateClient } from './grpc-connection';

const keyOf = (t: CoordinatorTarget) => `${t.address}\0${t.serverName}`;

export class ClientPool {
  private readonly clients = new Map<string, { client: CoordinatorClient; users: number }>();

  constructor(private readonly create: CreateClient) {}

  /** The target's client; each acquire needs one release. */
  acquire(target: CoordinatorTarget): CoordinatorClient {
    const key = keyOf(target);
    let held = this.clients.get(key);
    if (!held) {
      held = { client: this.create(target), users: 0 };
      this.clients.set(key, held);
    }
    held.users++;
    return held.client;
  }

  release(target: CoordinatorTarget): void {
    const key = keyOf(target);
    const held = this.clients.get(key);
    if (!held || --held.users > 0) return;
    this.clients.delete(key);
    held.client.close();
  }

  /** Addresses with a client open now (tests). */
  get open(): string[] {
    return [...this.clients.keys()].map((k) => k.split('\0')[0]!);
  }

  closeAll(): void {
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }
}
