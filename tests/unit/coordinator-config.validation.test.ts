import { describe, expect, test } from 'bun:test';
import { ConfigError, parseCoordinatorConfig } from '../../coordinator/config';

describe('coordinator config', () => {
  test('defaults follow the seed (gRPC on 9090, enabled)', () => {
    const c = parseCoordinatorConfig({});
    expect(c.grpcPort).toBe(9090);
    expect(c.grpcEnabled).toBe(true);
    expect(c.grpcAuthToken).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  test('reads the seed variables', () => {
    const c = parseCoordinatorConfig({ TVARR_GRPC_ENABLED: 'false', TVARR_GRPC_PORT: '7000', TVARR_GRPC_AUTH_TOKEN: 'a-long-secret' });
    expect(c.grpcEnabled).toBe(false);
    expect(c.grpcPort).toBe(7000);
    expect(c.grpcAuthToken).toBe('a-long-secret');
  });

  const bad: [string, string, string][] = [
    ['TVARR_GRPC_PORT', '70000', 'port number'],
    ['TVARR_GRPC_PORT', 'abc', 'port number'],
    ['TVARR_HTTP_PORT', '-1', 'port number'],
    ['TVARR_GRPC_ENABLED', 'yes', 'true or false'],
    ['TVARR_GRPC_AUTH_TOKEN', 'short', 'at least 8'],
    ['TVARR_LOG_LEVEL', 'loud', 'debug, info'],
    ['TVARR_PUBLIC_URL', 'ftp://x', 'http(s) URL'],
    ['TVARR_MAX_ATTEMPTS', '0', 'integer 1-100'],
    ['TVARR_HEARTBEAT_INTERVAL_MS', '10', 'milliseconds'],
    ['TVARR_BUFFER_BYTES', '12', 'bytes between'],
  ];
  for (const [name, value, expected] of bad) {
    test(`${name}=${value} fails with one line naming the variable`, () => {
      let err: unknown;
      try {
        parseCoordinatorConfig({ [name]: value });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const message = (err as Error).message;
      expect(message.startsWith(`${name}:`)).toBe(true);
      expect(message).toContain(expected);
      expect(message).not.toContain('\n');
      expect(message).not.toContain(value === 'short' ? 'short' : '\u0000');
    });
  }

  test('the loss deadline must exceed the heartbeat interval', () => {
    expect(() => parseCoordinatorConfig({ TVARR_HEARTBEAT_INTERVAL_MS: '2000', TVARR_WORKER_LOSS_DEADLINE_MS: '1000' })).toThrow(
      'TVARR_WORKER_LOSS_DEADLINE_MS',
    );
  });
});
