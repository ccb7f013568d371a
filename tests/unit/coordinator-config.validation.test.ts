import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseCoordinatorConfig } from '../../coordinator/config';

const dir = mkdtempSync(join(tmpdir(), 'tvarr-config-'));
const pem = join(dir, 'x.pem');
const notPem = join(dir, 'x.txt');
writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
writeFileSync(notPem, 'hello');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
    ['TVARR_HTTP_HOST', 'bad host!', 'host name'],
    ['TVARR_GRPC_HOST', 'a b', 'host name'],
    ['TVARR_HTTP_PORT', '80.5', 'port number'],
    ['TVARR_GRPC_AUTH_TOKEN', 'has a space in it', 'no spaces'],
    ['TVARR_PUBLIC_URL', 'http://', 'http(s) URL'],
    ['TVARR_PUBLIC_URL', 'not a url', 'http(s) URL'],
    ['TVARR_LOG_LEVEL', 'INFO', 'debug, info'],
    ['TVARR_SEED_DEFAULTS', 'maybe', 'true or false'],
    ['TVARR_WORKER_LOSS_DEADLINE_MS', '5', 'milliseconds'],
    ['TVARR_JOB_START_TIMEOUT_MS', '1e9', 'milliseconds'],
    ['TVARR_IDLE_GRACE_MS', '-1', 'milliseconds'],
    ['TVARR_MAX_ATTEMPTS', '101', 'integer 1-100'],
    ['TVARR_RETRY_BACKOFF_MS', 'soon', 'milliseconds'],
    ['TVARR_RETRY_BACKOFF_MAX_MS', '99999999999', 'milliseconds'],
    ['TVARR_QUARANTINE_FAILURES', '0', 'integer 1-1000'],
    ['TVARR_QUARANTINE_WINDOW_MS', '10', 'milliseconds'],
    ['TVARR_QUARANTINE_MS', '10', 'milliseconds'],
    ['TVARR_JOB_INPUT_QUEUE_BYTES', '1', 'bytes between'],
    ['TVARR_UPSTREAM_TIMEOUT_MS', '0', 'milliseconds'],
    ['TVARR_GRPC_MAX_MESSAGE_BYTES', '1024', 'bytes between'],
    ['TVARR_ADMIN_TOKEN', 'short', 'at least 8'],
    ['TVARR_API_MAX_BODY_BYTES', '10', 'bytes between'],
    ['TVARR_API_MAX_BODY_BYTES', 'lots', 'bytes between'],
    ['TVARR_MAX_CLIENTS_PER_VARIANT', '0', 'integer 1-100000'],
    ['TVARR_MAX_CLIENTS', '-5', 'integer 1-1000000'],
    ['TVARR_OVERLOAD_LAG_MS', '-1', 'milliseconds 0-60000'],
    ['TVARR_OVERLOAD_LAG_MS', 'high', 'milliseconds 0-60000'],
    ['TVARR_GRPC_TLS_CERT_FILE', '/nonexistent/cert.pem', 'PEM'],
    ['TVARR_GRPC_TLS_KEY_FILE', notPem, 'PEM'],
    ['TVARR_GRPC_TLS_CLIENT_CA_FILE', dir, 'PEM'],
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

  test('TLS needs both cert and key; a client CA needs both too', () => {
    expect(() => parseCoordinatorConfig({ TVARR_GRPC_TLS_CERT_FILE: pem })).toThrow(/^TVARR_GRPC_TLS_KEY_FILE: /);
    expect(() => parseCoordinatorConfig({ TVARR_GRPC_TLS_KEY_FILE: pem })).toThrow(/^TVARR_GRPC_TLS_CERT_FILE: /);
    expect(() => parseCoordinatorConfig({ TVARR_GRPC_TLS_CLIENT_CA_FILE: pem })).toThrow(/^TVARR_GRPC_TLS_CLIENT_CA_FILE: /);
    const c = parseCoordinatorConfig({ TVARR_GRPC_TLS_CERT_FILE: pem, TVARR_GRPC_TLS_KEY_FILE: pem, TVARR_GRPC_TLS_CLIENT_CA_FILE: pem });
    expect(c.grpcTls).toEqual({ certFile: pem, keyFile: pem, clientCaFile: pem });
    expect(parseCoordinatorConfig({}).grpcTls).toBeUndefined();
  });

  test('limits have safe defaults', () => {
    const c = parseCoordinatorConfig({});
    expect(c.grpcMaxMessageBytes).toBe(4 << 20);
    expect(c.apiMaxBodyBytes).toBe(1 << 20);
    expect(c.maxClientsPerVariant).toBe(500);
    expect(c.maxClients).toBe(2000);
    expect(c.overloadLagMs).toBe(200);
    expect(parseCoordinatorConfig({ TVARR_OVERLOAD_LAG_MS: '0' }).overloadLagMs).toBe(0);
    expect(c.upstreamTimeoutMs).toBe(10_000);
    expect(c.adminToken).toBeUndefined();
  });

  test('a bad secret is never echoed in the message', () => {
    for (const name of ['TVARR_GRPC_AUTH_TOKEN', 'TVARR_ADMIN_TOKEN']) {
      const secret = 'sec ret-value';
      let message = '';
      try {
        parseCoordinatorConfig({ [name]: secret });
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message.startsWith(`${name}:`)).toBe(true);
      expect(message).not.toContain('sec ret');
    }
  });
});
