// Which coordinator a worker dials next: the order of a round (random first start, then
// after the one tried last), names resolved to several addresses, the bound, and a
// resolver that fails or hangs. The dialling itself is in
// tests/integration/worker-client.coordinator-move.test.ts and .coordinator-names.test.ts.
import { describe, expect, test } from 'bun:test';
import { CoordinatorRotation, directTarget, orderRound, type ResolveHost } from '../../worker/client/coordinator-rotation';
import { targetChannelOptions } from '../../worker/client/grpc-connection';

const addresses = async (r: CoordinatorRotation) => (await r.round()).targets.map((t) => t.address);
const fixed = (table: Record<string, string[]>): ResolveHost => async (host) => {
  const found = table[host];
  if (!found) throw new Error(`getaddrinfo ENOTFOUND ${host}`);
  return found;
};

describe('orderRound', () => {
  const targets = ['a:1', 'b:1', 'c:1'].map(directTarget);
  const order = (last: string | undefined, random: number) => orderRound(targets, last, random).map((t) => t.address);

  test('the first round starts at a random address, and each address is in it once', () => {
    expect(order(undefined, 0)).toEqual(['a:1', 'b:1', 'c:1']);
    expect(order(undefined, 0.5)).toEqual(['b:1', 'c:1', 'a:1']);
    expect(order(undefined, 0.999)).toEqual(['c:1', 'a:1', 'b:1']);
  });

  test('later rounds start after the address tried last, so that one comes last', () => {
    expect(order('a:1', 0.999)).toEqual(['b:1', 'c:1', 'a:1']);
    expect(order('c:1', 0.999)).toEqual(['a:1', 'b:1', 'c:1']);
    // An address that is gone (a name resolved differently): a random start again.
    expect(order('gone:1', 0)).toEqual(['a:1', 'b:1', 'c:1']);
    expect(orderRound([], 'a:1', 0)).toEqual([]);
  });
});

describe('CoordinatorRotation', () => {
  test('a name with several addresses counts as several coordinators, each verified as the name', async () => {
    const r = new CoordinatorRotation(['coord.lan:9090', '10.0.0.9:9091'], {
      resolve: fixed({ 'coord.lan': ['10.0.0.1', 'fd00::2'] }),
      random: () => 0,
    });
    const round = await r.round();
    expect(round.unresolved).toEqual([]);
    expect(round.targets).toEqual([
      { entry: 'coord.lan:9090', address: '10.0.0.1:9090', serverName: 'coord.lan' },
      { entry: 'coord.lan:9090', address: '[fd00::2]:9090', serverName: 'coord.lan' },
      { entry: '10.0.0.9:9091', address: '10.0.0.9:9091', serverName: '10.0.0.9' },
    ]);
  });

  test('each round resolves again and starts after the address tried last', async () => {
    let calls = 0;
    const r = new CoordinatorRotation(['coord.lan:9090'], {
      resolve: async () => (++calls === 1 ? ['10.0.0.1', '10.0.0.2'] : ['10.0.0.1', '10.0.0.2', '10.0.0.3']),
      random: () => 0,
    });
    const first = (await r.round()).targets;
    r.tried(first[0]!);
    expect(await addresses(r)).toEqual(['10.0.0.2:9090', '10.0.0.3:9090', '10.0.0.1:9090']);
    expect(calls).toBe(2);
  });

  test('an address listed twice (an IP and a name for it) is tried once; at most 16 per round', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `10.1.0.${i + 1}`);
    const r = new CoordinatorRotation(['10.0.0.1:9090', 'coord.lan:9090', 'big.lan:9090'], {
      resolve: fixed({ 'coord.lan': ['10.0.0.1', '10.0.0.1', '10.0.0.2'], 'big.lan': many }),
      random: () => 0,
    });
    const got = await addresses(r);
    expect(got.slice(0, 3)).toEqual(['10.0.0.1:9090', '10.0.0.2:9090', '10.1.0.1:9090']);
    expect(got).toHaveLength(16);
  });

  test('a name that does not resolve is reported; one that resolved before keeps its last answer', async () => {
    let up = true;
    const r = new CoordinatorRotation(['coord.lan:9090', 'never.lan:9090'], {
      resolve: async (host) => {
        if (host === 'coord.lan' && up) return ['10.0.0.1'];
        throw new Error(`getaddrinfo ENOTFOUND ${host}`);
      },
      random: () => 0,
    });
    expect(await r.round()).toEqual({
      targets: [{ entry: 'coord.lan:9090', address: '10.0.0.1:9090', serverName: 'coord.lan' }],
      unresolved: ['never.lan:9090: getaddrinfo ENOTFOUND never.lan'],
    });
    up = false;
    expect(await addresses(r)).toEqual(['10.0.0.1:9090']);
  });

  test('a resolver that hangs is given up after resolveTimeoutMs', async () => {
    const r = new CoordinatorRotation(['slow.lan:9090', '10.0.0.9:9090'], {
      resolve: () => new Promise<string[]>(() => {}),
      random: () => 0,
      resolveTimeoutMs: 30,
    });
    const t0 = performance.now();
    const round = await r.round();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(round.targets.map((t) => t.address)).toEqual(['10.0.0.9:9090']);
    expect(round.unresolved).toEqual(['slow.lan:9090: no answer within 30 ms']);
  });
});

describe('dialling one address of a name', () => {
  const resolved = { entry: 'coord.lan:9090', address: '10.0.0.1:9090', serverName: 'coord.lan' };
  const tls = { tls: { caFile: '/ca.pem' } };

  test('TLS keeps the name as SNI (the certificate is checked against the name, not the address)', () => {
    expect(targetChannelOptions(tls, resolved)).toEqual({ 'grpc.default_authority': 'coord.lan:9090', 'grpc.ssl_target_name_override': 'coord.lan' });
  });

  test('plaintext still sends the name as :authority', () => {
    expect(targetChannelOptions({}, resolved)).toEqual({ 'grpc.default_authority': 'coord.lan:9090' });
  });

  test('an IP entry is dialled as is (TLS: SNI placeholder, certificate checked against the IP)', () => {
    expect(targetChannelOptions({}, directTarget('10.0.0.1:9090'))).toEqual({});
    expect(targetChannelOptions(tls, directTarget('10.0.0.1:9090'))).toEqual({ 'grpc.ssl_target_name_override': 'tvarr-coordinator' });
  });
});
