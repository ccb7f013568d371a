// Which coordinator to dial next. TVARR_COORDINATOR_URL lists one or more host:port
// entries; a name that resolves to several addresses counts as several coordinators, so
// each round resolves every name again (node:dns lookup, as /etc/hosts and the system
// resolver answer) and tries the addresses one by one.
//
// Order: a round starts after the address tried last, so the one just lost is tried after
// all the others; the first round starts at a random address so a fleet started together
// spreads over the coordinators instead of all landing on the first entry.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { MAX_COORDINATORS } from '../config';
import { coordinatorHost } from './grpc-connection';

/** One coordinator to dial. */
export interface CoordinatorTarget {
  /** The TVARR_COORDINATOR_URL entry it came from, as configured (logs). */
  entry: string;
  /** What the channel connects to: the entry itself for an IP, else one resolved ip:port. */
  address: string;
  /** The entry's host: what TLS verifies the coordinator's certificate against (and SNI). */
  serverName: string;
}

export type ResolveHost = (host: string) => Promise<string[]>;

/** The system resolver, every address (IPv4 and IPv6 in the order it gives them). */
export const lookupAllAddresses: ResolveHost = async (host) => (await lookup(host, { all: true })).map((a) => a.address);

// A resolver that does not answer must not hold up the move to a live coordinator for long;
// the entry's last answer is used meanwhile.
const RESOLVE_TIMEOUT_MS = 2000;

export interface RotationOptions {
  /** Defaults to the system resolver. */
  resolve?: ResolveHost;
  /** Picks where the first round starts; defaults to Math.random. */
  random?: () => number;
  resolveTimeoutMs?: number;
}

/** A literal host:port dialled as is (no resolution): tests and benches. */
export function directTarget(hostPort: string): CoordinatorTarget {
  return { entry: hostPort, address: hostPort, serverName: coordinatorHost(hostPort) };
}

function joinHostPort(host: string, port: string): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `targets` rotated to start just after `lastAddress` (at `randomStart` when it is absent or gone). */
export function orderRound(targets: readonly CoordinatorTarget[], lastAddress: string | undefined, randomStart: number): CoordinatorTarget[] {
  if (targets.length === 0) return [];
  const i = lastAddress === undefined ? -1 : targets.findIndex((t) => t.address === lastAddress);
  const start = i >= 0 ? i + 1 : Math.floor(randomStart * targets.length);
  return targets.map((_, k) => targets[(start + k) % targets.length]!);
}

export interface Round {
  targets: CoordinatorTarget[];
  /** Entries whose name did not resolve this time (and had no earlier answer), with why. */
  unresolved: string[];
}

export class CoordinatorRotation {
  private lastAddress: string | undefined;
  /** Each name's last successful answer, used while the resolver fails or is slow. */
  private readonly known = new Map<string, string[]>();

  private readonly resolve: ResolveHost;
  private readonly random: () => number;
  private readonly resolveTimeoutMs: number;

  constructor(private readonly entries: readonly string[], o: RotationOptions = {}) {
    this.resolve = o.resolve ?? lookupAllAddresses;
    this.random = o.random ?? Math.random;
    this.resolveTimeoutMs = o.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS;
  }

  /** The addresses to try now, in order; resolves names again. */
  async round(): Promise<Round> {
    const unresolved: string[] = [];
    const answers = await Promise.all(this.entries.map((entry) => this.resolveEntry(entry, unresolved)));
    const seen = new Set<string>();
    const targets: CoordinatorTarget[] = [];
    this.entries.forEach((entry, i) => {
      const host = coordinatorHost(entry);
      const port = entry.slice(entry.lastIndexOf(':') + 1);
      for (const ip of answers[i]!) {
        const address = isIP(host) ? entry : joinHostPort(ip, port);
        if (seen.has(address) || targets.length >= MAX_COORDINATORS) continue;
        seen.add(address);
        targets.push({ entry, address, serverName: host });
      }
    });
    return { targets: orderRound(targets, this.lastAddress, this.random()), unresolved };
  }

  /** Remembers where the next round starts from. */
  tried(target: CoordinatorTarget): void {
    this.lastAddress = target.address;
  }

  private async resolveEntry(entry: string, unresolved: string[]): Promise<string[]> {
    const host = coordinatorHost(entry);
    if (isIP(host)) return [host];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${this.resolveTimeoutMs} ms`)), this.resolveTimeoutMs);
      });
      const addresses = [...new Set(await Promise.race([this.resolve(host), timeout]))];
      if (addresses.length === 0) throw new Error('no addresses');
      this.known.set(entry, addresses);
      return addresses;
    } catch (err) {
      const last = this.known.get(entry);
      if (!last) unresolved.push(`${entry}: ${(err as Error).message}`);
      return last ?? [];
    } finally {
      clearTimeout(timer);
    }
  }
}
