import { describe, expect, test } from 'bun:test';
import { ConfigError, defaultLimits, deriveWorkerId, parseWorkerConfig } from '../../worker/config';

const hw = { hostname: 'box', cpuCount: 8, nvidiaGpuCount: 1, otherGpuCount: 1 };

function errorOf(env: Record<string, string>): string {
  try {
    parseWorkerConfig(env, hw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseWorkerConfig', () => {
  test('defaults come from hardware and are frozen', () => {
    const c = parseWorkerConfig({}, hw);
    expect(c.coordinatorUrls).toEqual(['127.0.0.1:9090']);
    expect(c.workerName).toBe('box');
    expect(c.workerId).toBe(deriveWorkerId('box', 'box'));
    expect([c.maxCpuJobs, c.maxGpuJobs, c.maxJobs]).toEqual([4, 5, 9]);
    expect(c.logLevel).toBe('info');
    expect(c.tls).toBeUndefined();
    expect([c.probeTimeoutMs, c.reconnectBaseMs, c.reconnectMaxMs, c.drainTimeoutMs]).toEqual([20000, 250, 10000, 30000]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('worker id is stable for the same host and name, and differs by name', () => {
    const a = parseWorkerConfig({ TVARR_WORKER_NAME: 'gpu-1' }, hw).workerId;
    expect(parseWorkerConfig({ TVARR_WORKER_NAME: 'gpu-1' }, hw).workerId).toBe(a);
    expect(parseWorkerConfig({ TVARR_WORKER_NAME: 'gpu-2' }, hw).workerId).not.toBe(a);
    expect(parseWorkerConfig({ TVARR_WORKER_ID: 'explicit-1' }, hw).workerId).toBe('explicit-1');
  });

  test('a CPU-only small machine still gets one job', () => {
    expect(defaultLimits({ hostname: 'x', cpuCount: 1, nvidiaGpuCount: 0, otherGpuCount: 0 })).toEqual({ maxJobs: 1, maxGpuJobs: 0, maxCpuJobs: 1 });
  });

  test('explicit values win and empty strings count as unset', () => {
    const c = parseWorkerConfig({ TVARR_MAX_JOBS: '3', TVARR_MAX_GPU_JOBS: '0', TVARR_LOG_LEVEL: '', TVARR_COORDINATOR_URL: 'coord.lan:7000' }, hw);
    expect([c.maxJobs, c.maxGpuJobs, c.logLevel, c.coordinatorUrls]).toEqual([3, 0, 'info', ['coord.lan:7000']]);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['TVARR_COORDINATOR_URL', 'http://x', /^TVARR_COORDINATOR_URL must be host:port/],
    ['TVARR_COORDINATOR_URL', 'x:70000', /^TVARR_COORDINATOR_URL must be .*port 1-65535/],
    ['TVARR_WORKER_ID', 'has space', /^TVARR_WORKER_ID must be /],
    ['TVARR_MAX_JOBS', '0', /^TVARR_MAX_JOBS must be a positive integer \(got "0"\)$/],
    ['TVARR_MAX_JOBS', 'ten', /^TVARR_MAX_JOBS must be a positive integer/],
    ['TVARR_MAX_GPU_JOBS', '-1', /^TVARR_MAX_GPU_JOBS must be a non-negative integer/],
    ['TVARR_MAX_CPU_JOBS', '1.5', /^TVARR_MAX_CPU_JOBS must be a non-negative integer/],
    ['TVARR_LOG_LEVEL', 'verbose', /^TVARR_LOG_LEVEL must be one of debug\|info\|warn\|error/],
    ['TVARR_PROBE_TIMEOUT_MS', '5s', /^TVARR_PROBE_TIMEOUT_MS must be a positive integer/],
    ['TVARR_RECONNECT_BASE_MS', '0', /^TVARR_RECONNECT_BASE_MS must be a positive integer/],
    ['TVARR_RECONNECT_MAX_MS', '-', /^TVARR_RECONNECT_MAX_MS must be a positive integer/],
    ['TVARR_DRAIN_TIMEOUT_MS', 'soon', /^TVARR_DRAIN_TIMEOUT_MS must be a non-negative integer/],
    ['TVARR_TLS_CA_FILE', '/nonexistent/ca.pem', /^TVARR_TLS_CA_FILE must be a readable PEM file, which is not readable/],
  ];
  for (const [name, value, expected] of bad) {
    test(`bad ${name}=${JSON.stringify(value)} names the variable on one line`, () => {
      const msg = errorOf({ [name]: value });
      expect(msg).toMatch(expected);
      expect(msg).not.toContain('\n');
    });
  }

  test('reconnect max below base is rejected', () => {
    expect(errorOf({ TVARR_RECONNECT_BASE_MS: '500', TVARR_RECONNECT_MAX_MS: '100' })).toMatch(/^TVARR_RECONNECT_MAX_MS must be .*>= TVARR_RECONNECT_BASE_MS/);
  });

  test('TLS cert without key is rejected', () => {
    expect(errorOf({ TVARR_TLS_CERT_FILE: '/etc/hostname' })).toMatch(/^TVARR_TLS_KEY_FILE .* when TVARR_TLS_CERT_FILE is set/);
  });

  test('a bad token never echoes its value', () => {
    const msg = errorOf({ TVARR_AUTH_TOKEN: 'sec ret' });
    expect(msg).toMatch(/^TVARR_AUTH_TOKEN must be/);
    expect(msg).not.toContain('sec');
  });
});

describe('TVARR_COORDINATOR_URL lists', () => {
  const urls = (value: string) => parseWorkerConfig({ TVARR_COORDINATOR_URL: value }, hw).coordinatorUrls;

  test('one address, as before, and every single form: IPv4, a name, bracketed IPv6', () => {
    expect(urls('10.0.0.5:9090')).toEqual(['10.0.0.5:9090']);
    expect(urls('coord.lan:9090')).toEqual(['coord.lan:9090']);
    expect(urls('[fd00::5]:9090')).toEqual(['[fd00::5]:9090']);
  });

  test('a comma-separated list keeps its order; spaces around commas are allowed; the list is frozen', () => {
    const list = urls('coord-a:9090, coord-b:9090 ,[::1]:9091,10.0.0.7:9092');
    expect(list).toEqual(['coord-a:9090', 'coord-b:9090', '[::1]:9091', '10.0.0.7:9092']);
    expect(Object.isFrozen(list)).toBe(true);
  });

  test('16 entries are accepted; 17 are refused on one line', () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => `c${i}:9090`).join(',');
    expect(urls(list(16))).toHaveLength(16);
    expect(errorOf({ TVARR_COORDINATOR_URL: list(17) })).toBe('TVARR_COORDINATOR_URL must list at most 16 coordinators (got 17)');
  });

  const badEntries: Array<[string, RegExp]> = [
    ['a:9090,b', /^TVARR_COORDINATOR_URL must be host:port.* \(entry 2 of 2\) \(got "b"\)$/],
    ['a:9090,b:70000,c:9090', /^TVARR_COORDINATOR_URL must be host:port with port 1-65535 \(entry 2 of 3\) \(got "b:70000"\)$/],
    ['a:9090,b:0', /port 1-65535 \(entry 2 of 2\)/],
    ['a:9090,', /^TVARR_COORDINATOR_URL must be host:port.* \(entry 2 of 2\) \(got ""\)$/],
    [',a:9090', /\(entry 1 of 2\)/],
    ['a:9090;b:9090', /^TVARR_COORDINATOR_URL must be host:port/],
    ['::1:9090', /^TVARR_COORDINATOR_URL must be host:port/],
    [`${'x'.repeat(260)}:9090`, /^TVARR_COORDINATOR_URL must be host:port/],
    ['a:9090,b:9090,a:9090', /^TVARR_COORDINATOR_URL lists "a:9090" twice \(entries 1 and 3\)$/],
  ];
  for (const [value, expected] of badEntries) {
    test(`bad list ${JSON.stringify(value.slice(0, 40))} names the entry by position, on one line`, () => {
      const msg = errorOf({ TVARR_COORDINATOR_URL: value });
      expect(msg).toMatch(expected);
      expect(msg).not.toContain('\n');
    });
  }

  test('an entry that may hold credentials is named by position but not echoed', () => {
    for (const value of ['a:9090,grpc://user:hunter2@b:9090', 'a:9090,b:9090?token=hunter2', 'http://admin:hunter2@a:9090']) {
      const msg = errorOf({ TVARR_COORDINATOR_URL: value });
      expect(msg).toMatch(/^TVARR_COORDINATOR_URL must be host:port/);
      expect(msg).toContain('(value not shown)');
      expect(msg).not.toContain('hunter2');
    }
  });
});
