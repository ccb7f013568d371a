// A "remote host" on this machine: a network namespace joined to the default one by a
// veth pair, with tc netem adding delay (and optional loss) on both ends, so traffic
// between the two pays delay twice per round trip. Used by the remote-worker e2e test
// and bench/remote-worker.ts. Needs root (CAP_NET_ADMIN); `canCreateNamespaces()`
// tries it for real rather than guessing from uid.
//
// Some kernels (this project's CI VMs among them) are built without sch_netem
// ("Specified qdisc kind is unknown"). There the link is a pair of TUN devices joined
// by delay-wire.py, a userspace netem: same addresses, same delay and loss per packet,
// so TCP and HTTP/2 see a real 100 ms path. `link` says which one was used.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface NetemOptions {
  /** one-way delay added on each side, so RTT is twice this */
  delayMs: number;
  /** packet loss on each side, in percent (0.1 = one in a thousand) */
  lossPercent?: number;
}

export interface RemoteHost {
  /** namespace name, for `ip netns exec` */
  ns: string;
  /** address of the default-namespace end (where a coordinator listens) */
  hostAddress: string;
  /** address of the namespace end (the "remote" machine) */
  remoteAddress: string;
  /** how delay is made: kernel netem on a veth pair, or the userspace TUN wire */
  link: 'veth+netem' | 'tun+delay-wire';
  /** argv prefix that runs a command inside the namespace */
  exec(argv: string[]): string[];
  /** removes the namespace and the veth pair; safe to call twice */
  destroy(): void;
}

function ip(args: string[], allowFail = false): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

function tc(args: string[]): void {
  const r = spawnSync('tc', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tc ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Returns null when namespaces can be made here, else the reason they cannot. */
export function canCreateNamespaces(): string | null {
  const probe = `tvp${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error) return `cannot run ip: ${r.error.message}`;
  if (r.status !== 0) return `ip netns add failed: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  const t = spawnSync('tc', ['-V'], { encoding: 'utf8' });
  if (t.error) return `cannot run tc: ${t.error.message}`;
  return null;
}

function names() {
  const id = `${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const n = Math.floor(Math.random() * 16000);
  const [a, b, c, d] = [10, 213, n >> 6, (n & 63) * 4];
  // Interface names stay within 15 characters.
  return { id, ns: `tvarr-${id}`, hostIf: `tvh${id}`, nsIf: `tvn${id}`, hostAddress: `${a}.${b}.${c}.${d + 1}`, remoteAddress: `${a}.${b}.${c}.${d + 2}` };
}

const NETEM_MISSING = /qdisc kind is unknown/i;

/**
 * Creates a namespace and a link to it on a /30 chosen from 10.213.0.0/16 at random,
 * so parallel runs do not collide. Prefers veth + netem; falls back to the TUN wire
 * only when the kernel has no netem.
 */
export async function createRemoteHost(netem: NetemOptions): Promise<RemoteHost> {
  const n = names();
  const { ns, hostIf, nsIf, hostAddress, remoteAddress } = n;
  let wire: ChildProcess | undefined;
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    wire?.kill('SIGTERM');
    // Deleting one end of a veth pair deletes the other; TUN devices go with the wire's fds.
    ip(['link', 'del', hostIf], true);
    ip(['-n', ns, 'link', 'del', nsIf], true);
    ip(['netns', 'del', ns], true);
  };
  const base = { ns, hostAddress, remoteAddress, exec: (argv: string[]) => ['ip', 'netns', 'exec', ns, ...argv], destroy };
  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    const qdisc = ['netem', 'delay', `${netem.delayMs}ms`, ...(netem.lossPercent ? ['loss', `${netem.lossPercent}%`] : []), 'limit', '100000'];
    try {
      tc(['qdisc', 'add', 'dev', hostIf, 'root', ...qdisc]);
    } catch (err) {
      if (!NETEM_MISSING.test((err as Error).message)) throw err;
      ip(['link', 'del', hostIf]);
      wire = await startDelayWire(hostIf, nsIf, netem);
      ip(['link', 'set', nsIf, 'netns', ns]);
      ip(['addr', 'add', hostAddress, 'peer', remoteAddress, 'dev', hostIf]);
      ip(['link', 'set', hostIf, 'up']);
      ip(['-n', ns, 'addr', 'add', remoteAddress, 'peer', hostAddress, 'dev', nsIf]);
      ip(['-n', ns, 'link', 'set', nsIf, 'up']);
      return { ...base, link: 'tun+delay-wire' };
    }
    ip(['link', 'set', nsIf, 'netns', ns]);
    ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['-n', ns, 'addr', 'add', `${remoteAddress}/30`, 'dev', nsIf]);
    ip(['-n', ns, 'link', 'set', nsIf, 'up']);
    tc(['-n', ns, 'qdisc', 'add', 'dev', nsIf, 'root', ...qdisc]);
    return { ...base, link: 'veth+netem' };
  } catch (err) {
    destroy();
    throw err;
  }
}

/** Starts delay-wire.py with two TUN devices and waits for its "ready" line. */
function startDelayWire(a: string, b: string, netem: NetemOptions): Promise<ChildProcess> {
  const script = join(import.meta.dir, 'delay-wire.py');
  const child = spawn('python3', [script, a, b, String(netem.delayMs), String(netem.lossPercent ?? 0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`delay-wire.py exited with ${code} before it was ready`)));
    child.stdout!.once('data', () => resolve(child));
  });
}
