import { describe, expect, test } from 'bun:test';
import { coordinatorHost, explainConnectionFailure } from '../../worker/client/grpc-connection';

describe('worker connection settings', () => {
  test('the host to verify comes from TVARR_COORDINATOR_URL', () => {
    expect(coordinatorHost('127.0.0.1:9090')).toBe('127.0.0.1');
    expect(coordinatorHost('coord.example:443')).toBe('coord.example');
    expect(coordinatorHost('[::1]:9090')).toBe('::1');
  });

  const tls = { tls: { caFile: '/ca.pem' } };
  test('TLS trust failures name the variable to fix', () => {
    const reason = 'UNAVAILABLE: No connection established. Last error: Error: self signed certificate in certificate chain.';
    expect(explainConnectionFailure(reason, tls)).toContain('TVARR_TLS_CA_FILE');
    expect(explainConnectionFailure('UNAVAILABLE: ... ERR_TLS_CERT_ALTNAME_INVALID', tls)).toContain('not trusted');
  });

  test('a missing client certificate points at the mutual TLS variables', () => {
    const reason = 'UNAVAILABLE: Last error: error:1000045c:SSL routines:OPENSSL_internal:TLSV1_ALERT_CERTIFICATE_REQUIRED';
    expect(explainConnectionFailure(reason, tls)).toContain('TVARR_TLS_CERT_FILE');
  });

  test('a refused token points at TVARR_AUTH_TOKEN, without the token', () => {
    expect(explainConnectionFailure('UNAUTHENTICATED: invalid auth token', {})).toContain('TVARR_AUTH_TOKEN');
  });

  test('an ordinary refused connection gets no hint (the coordinator may just be down)', () => {
    expect(explainConnectionFailure('UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:9', {})).toBeUndefined();
    expect(explainConnectionFailure('UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:9', tls)).toBeUndefined();
  });
});
