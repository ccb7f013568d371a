// A real haproxy (Debian's package) in front of coordinators' HTTP ports, as deploy/haproxy.cfg
// puts one: round robin, health checks on /healthz every 250 ms (down after 2 failures),
// stream-long timeouts, retries of requests a dead coordinator never answered.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, freePort } from './processes';

/** The haproxy binary, or null where it is not installed (tests skip and say so). */
export const HAPROXY = spawnSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).stdout.trim() || null;

export interface Haproxy {
  url: string;
  stop(): Promise<void>;
}

/** Starts haproxy over `backends` (http://host:port each), its config in `dir`; resolves once it answers /healthz. */
export async function startHaproxy(backends: string[], dir: string): Promise<Haproxy> {
  if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install haproxy)');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const cfg = join(dir, `haproxy-${port}.cfg`);
  writeFileSync(
    cfg,
    [
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 1h',
      '  timeout server 1h',
      // As deploy/haproxy.cfg: a request a dead coordinator never answered goes to another.
      '  retries 2',
      '  retry-on conn-failure empty-response',
      '  option redispatch',
      'frontend viewers',
      `  bind 127.0.0.1:${port}`,
      '  default_backend coordinators',
      'backend coordinators',
      '  balance roundrobin',
      '  option httpchk GET /healthz',
      '  http-check expect status 200',
      '  default-server inter 250ms fall 2 rise 2',
      ...backends.map((b, i) => `  server c${i} ${new URL(b).host} check`),
      '',
    ].join('\n'),
  );
  const proc = Bun.spawn([HAPROXY, '-db', '-f', cfg], { stdout: 'ignore', stderr: 'ignore' });
  const stop = async () => {
    proc.kill('SIGKILL');
    await proc.exited;
  };
  try {
    await eventually('haproxy answers', async () => (await fetch(`${url}/healthz`).catch(() => null))?.status === 200, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}
