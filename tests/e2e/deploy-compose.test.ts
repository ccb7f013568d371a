// The compose file and Dockerfile stay correct on a machine with no Docker engine:
// `docker-compose config` (Debian's docker-compose, or the `docker compose` plugin)
// validates and resolves compose.yaml; the test then checks what the seed promises.
// Skipped, with the reason, where neither client is installed.
import { describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

function composeCommand(): string[] | null {
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  return null;
}

interface Service {
  image?: string;
  build?: { target?: string };
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string>;
  deploy?: {
    resources?: {
      limits?: { cpus?: string | number };
      reservations?: { devices?: { driver?: string; count?: number; capabilities?: string[] }[] };
    };
  };
}

const compose = composeCommand();
if (!compose) console.warn('deploy-compose: skipped: neither docker-compose nor `docker compose` is installed (apt-get install -y docker-compose)');

describe('deploy: Dockerfile targets', () => {
  test('every build target compose.yaml names is a stage of the Dockerfile, built with npm ci', () => {
    const dockerfile = readFileSync(`${ROOT}/Dockerfile`, 'utf8');
    const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);
    const targets = [...readFileSync(`${ROOT}/compose.yaml`, 'utf8').matchAll(/target:\s*(\S+)/g)].map((m) => m[1]);
    expect(targets.length).toBeGreaterThan(0);
    for (const t of targets) expect(stages).toContain(t);
    expect(dockerfile).toContain('RUN npm ci');
    expect(dockerfile).toContain('scripts/build-worker.ts');
  });
});

describe.skipIf(compose === null)('deploy: compose.yaml', () => {
  const cluster = (extraEnv: Record<string, string> = {}) => {
    const r = spawnSync(compose![0]!, [...compose!.slice(1), '-f', 'compose.yaml', '--profile', 'postgres', '--profile', 'cluster', 'config'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TVARR_GRPC_AUTH_TOKEN: 'test-token-123', ...extraEnv },
    });
    if (r.status !== 0) throw new Error(`compose config failed: ${r.stderr}`);
    return Bun.YAML.parse(r.stdout) as { services: Record<string, Service & { image?: string; volumes?: unknown[] }> };
  };
  const resolved = (extraEnv: Record<string, string> = {}) => {
    const r = spawnSync(compose![0]!, [...compose!.slice(1), '-f', 'compose.yaml', '--profile', 'gpu', '--profile', 'cpu-big', '--profile', 'postgres', 'config'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TVARR_GRPC_AUTH_TOKEN: 'test-token-123', ...extraEnv },
    });
    if (r.status !== 0) throw new Error(`compose config failed: ${r.stderr}`);
    return Bun.YAML.parse(r.stdout) as { services: Record<string, Service> };
  };

  test('it validates, with coordinator, a scalable CPU worker, a GPU worker, an 8-job CPU worker and an optional PostgreSQL', () => {
    const { services } = resolved();
    for (const name of ['coordinator', 'ffmpegd', 'ffmpegd-cpu', 'ffmpegd-gpu', 'postgres']) expect(Object.keys(services)).toContain(name);
    expect(services.coordinator!.environment!.TVARR_GRPC_ENABLED).toBe('true');
    expect(services.coordinator!.environment!.TVARR_GRPC_AUTH_TOKEN).toBe('test-token-123');
  });

  test('ffmpegd can be scaled: no fixed container name, no host ports', () => {
    const w = resolved().services.ffmpegd!;
    expect(w.container_name).toBeUndefined();
    expect(w.ports).toBeUndefined();
    expect(w.environment!.TVARR_COORDINATOR_URL).toBe('coordinator:9090');
    expect(w.environment!.TVARR_AUTH_TOKEN).toBe('test-token-123');
  });

  test('the GPU worker reserves an NVIDIA device; the CPU worker has 8 jobs and a CPU limit', () => {
    const { services } = resolved();
    const dev = services['ffmpegd-gpu']!.deploy!.resources!.reservations!.devices![0]!;
    expect(dev.driver).toBe('nvidia');
    expect(dev.count).toBe(1);
    expect(dev.capabilities!.sort()).toEqual(['gpu', 'video']);
    const cpu = services['ffmpegd-cpu']!;
    expect(cpu.environment!.TVARR_MAX_JOBS).toBe('8');
    expect(Number(cpu.deploy!.resources!.limits!.cpus)).toBe(8);
  });

  test('the PostgreSQL option: not published on the host, its password from the environment, TVARR_DATABASE_URL passed to the coordinator', () => {
    const url = 'postgres://tvarr:pw-123@postgres:5432/tvarr';
    const { services } = resolved({ TVARR_POSTGRES_PASSWORD: 'pw-123', TVARR_DATABASE_URL: url });
    const pg = services.postgres!;
    expect(pg.ports).toBeUndefined();
    expect(pg.environment!.POSTGRES_PASSWORD).toBe('pw-123');
    expect(services.coordinator!.environment!.TVARR_DATABASE_URL).toBe(url);
  });

  test('the cluster option: two coordinators on one database, each with its own public addresses, haproxy health-checked on /healthz, workers given both', () => {
    const url = 'postgres://tvarr:pw-123@postgres:5432/tvarr';
    const { services } = cluster({ TVARR_DATABASE_URL: url, TVARR_WORKER_COORDINATORS: 'coordinator:9090,coordinator-2:9090' });
    for (const name of ['coordinator', 'coordinator-2', 'ffmpegd', 'lb', 'postgres']) expect(Object.keys(services)).toContain(name);
    // Only haproxy is published besides the first coordinator's ports; the second is reached through it.
    expect(services['coordinator-2']!.ports).toBeUndefined();
    for (const [name, c] of [['coordinator', services.coordinator!], ['coordinator-2', services['coordinator-2']!]] as const) {
      expect(c.environment!.TVARR_DATABASE_URL).toBe(url);
      expect(c.environment!.TVARR_PUBLIC_URL).toBe(`http://${name}:8080`);
      expect(c.environment!.TVARR_GRPC_PUBLIC_ADDR).toBe(`${name}:9090`);
    }
    expect(services.ffmpegd!.environment!.TVARR_COORDINATOR_URL).toBe('coordinator:9090,coordinator-2:9090');
    expect(services.lb!.image).toMatch(/^haproxy:/);
    const cfg = readFileSync(join(ROOT, 'deploy/haproxy.cfg'), 'utf8');
    expect(cfg).toContain('option httpchk GET /healthz');
    expect(cfg).toMatch(/server coordinator coordinator:8080 check/);
    expect(cfg).toMatch(/server coordinator-2 coordinator-2:8080 check/);
    expect(cfg).toMatch(/timeout client 4h/);
  });
});
