// The request guard's rules as pure functions: Host names (DNS rebinding), cross-site
// writes, write content types and the token, including the reverse-proxy settings
// (TVARR_ALLOWED_HOSTS, TVARR_TRUSTED_ORIGINS, TVARR_PUBLIC_URL).
import { describe, expect, test } from 'bun:test';
import { hostname } from 'node:os';
import { guardRequest, hostAllowed, ownHostNames, type RequestGuardConfig } from '../../coordinator/http/admin-auth';

const TOKEN = 'guard-token-0123456789';

function config(over: Partial<RequestGuardConfig> & { allowedHosts?: string[]; publicUrl?: string } = {}): RequestGuardConfig {
  return {
    adminToken: TOKEN,
    apiMaxBodyBytes: 1 << 20,
    ownHosts: ownHostNames({ httpHost: '0.0.0.0', allowedHosts: over.allowedHosts ?? [], publicUrl: over.publicUrl }),
    trustedOrigins: over.trustedOrigins ?? [],
  };
}

function request(method: string, headers: Record<string, string>, body?: string): Request {
  return new Request('http://127.0.0.1:8080/api/sources', { method, headers, body });
}

const statusOf = (r: Request, c = config()) => guardRequest(r, c)?.status ?? 'pass';

describe('Host check', () => {
  const own = ownHostNames({ httpHost: '0.0.0.0', allowedHosts: ['TV.Example.com'], publicUrl: 'https://public.example.org' });

  test('own names, any IP literal, allowed and public hosts pass (ports and case ignored)', () => {
    for (const host of ['localhost', 'localhost:8080', '127.0.0.1:8080', '[::1]:8080', '::1', '192.168.1.20', '10.0.0.5:8080', hostname(), `${hostname().split('.')[0]}.local`, 'tv.example.com', 'TV.EXAMPLE.COM.', 'public.example.org:443']) {
      expect(`${host}: ${hostAllowed(host, own)}`).toBe(`${host}: true`);
    }
  });

  test('any other name is refused: that is what DNS rebinding sends', () => {
    for (const host of ['evil.example', 'evil.example:8080', '127.0.0.1.evil.example', 'localhost.evil.example', 'tv.example.com.evil.example']) {
      expect(`${host}: ${hostAllowed(host, own)}`).toBe(`${host}: false`);
    }
  });

  test("TVARR_ALLOWED_HOSTS='*' turns the check off", () => {
    expect(hostAllowed('anything.example', ownHostNames({ httpHost: '0.0.0.0', allowedHosts: ['*'] }))).toBe(true);
  });
});

describe('writes', () => {
  const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

  test('the token is needed; reads are not guarded', () => {
    expect(statusOf(request('POST', { 'content-type': 'application/json' }, '{}'))).toBe(401);
    expect(statusOf(request('POST', auth, '{}'))).toBe('pass');
    expect(statusOf(request('GET', {}))).toBe('pass');
  });

  test('cross-site requests are refused whatever the token; same-origin passes', () => {
    expect(statusOf(request('POST', { ...auth, origin: 'http://evil.example' }, '{}'))).toBe(403);
    expect(statusOf(request('POST', { ...auth, origin: 'null' }, '{}'))).toBe(403);
    expect(statusOf(request('POST', { ...auth, 'sec-fetch-site': 'cross-site' }, '{}'))).toBe(403);
    expect(statusOf(request('POST', { ...auth, 'sec-fetch-site': 'same-site' }, '{}'))).toBe(403);
    expect(statusOf(request('POST', { ...auth, origin: 'http://127.0.0.1:8080', host: '127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }, '{}'))).toBe('pass');
    expect(statusOf(request('POST', { ...auth, 'sec-fetch-site': 'none' }, '{}'))).toBe('pass');
  });

  test('behind a proxy that rewrites Host, a trusted origin may write', () => {
    const proxied = request('POST', { ...auth, origin: 'https://tv.example.com', host: '127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }, '{}');
    expect(statusOf(proxied)).toBe(403);
    expect(statusOf(proxied, config({ trustedOrigins: ['https://tv.example.com'] }))).toBe('pass');
    // A proxy that keeps Host needs no setting for the origin, only the name.
    const kept = request('POST', { ...auth, origin: 'https://tv.example.com', host: 'tv.example.com' }, '{}');
    expect(statusOf(kept)).toBe(403); // host_not_allowed until it is listed
    expect(statusOf(kept, config({ allowedHosts: ['tv.example.com'] }))).toBe('pass');
  });

  test('form and text bodies get 415, a body-less POST passes to the token check', () => {
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain;charset=UTF-8']) {
      expect(statusOf(request('POST', { authorization: auth.authorization, 'content-type': type }, 'a=b'))).toBe(415);
    }
    expect(statusOf(request('POST', { authorization: auth.authorization }))).toBe('pass');
    expect(statusOf(request('POST', {}))).toBe(401);
  });

  test('error bodies are JSON with a stable code', async () => {
    const res = guardRequest(request('POST', { ...auth, origin: 'http://evil.example' }, '{}'), config())!;
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('cross_site_request');
  });
});
