// One place for liveness timings (common/liveness.ts): both processes' defaults come
// from it, and at default settings a frozen worker is declared lost within 1.5 s.
import { describe, expect, test } from 'bun:test';
import { DEFAULT_DETECTION_BOUND_MS, DEFAULT_LIVENESS, deriveLiveness, LINK_RTT_ALLOWANCE_MAX_MS } from '../../common/liveness';
import { ConfigError, parseCoordinatorConfig } from '../../coordinator/config';
import { grpcServerOptions } from '../../coordinator/grpc/server';
import { parseWorkerConfig } from '../../worker/config';
import { channelOptions } from '../../worker/client/grpc-connection';

const hw = { hostname: 'box', cpuCount: 2, nvidiaGpuCount: 0, otherGpuCount: 0 };

describe('liveness timings', () => {
  test('at default settings a freeze is detected within 1.5 s; keepalive never drops a peer the sweep keeps', () => {
    const l = DEFAULT_LIVENESS;
    expect(l.detectionBoundMs).toBeLessThanOrEqual(DEFAULT_DETECTION_BOUND_MS);
    expect(l.workerLossDeadlineMs + l.sweepIntervalMs).toBe(l.detectionBoundMs);
    // The sweep allows a far worker up to LINK_RTT_ALLOWANCE_MAX_MS more: so does keepalive.
    expect(l.keepaliveTimeoutMs).toBe(l.workerLossDeadlineMs + LINK_RTT_ALLOWANCE_MAX_MS);
    expect(l.keepaliveTimeMs).toBeLessThan(l.workerLossDeadlineMs);
    // Several heartbeats fit in the deadline: one late heartbeat is no loss.
    expect(l.workerLossDeadlineMs / l.heartbeatIntervalMs).toBeGreaterThanOrEqual(4);
  });

  test('the coordinator config takes its defaults from it, and derives the rest from what is set', () => {
    const c = parseCoordinatorConfig({}).liveness;
    expect(c.heartbeatIntervalMs).toBe(DEFAULT_LIVENESS.heartbeatIntervalMs);
    expect(c.workerLossDeadlineMs).toBe(DEFAULT_LIVENESS.workerLossDeadlineMs);
    expect(c.sweepIntervalMs).toBe(DEFAULT_LIVENESS.sweepIntervalMs);
    // Only the interval set: the deadline follows it (5 heartbeats), keepalive follows both.
    const slow = parseCoordinatorConfig({ TVARR_HEARTBEAT_INTERVAL_MS: '1000' }).liveness;
    expect(slow.workerLossDeadlineMs).toBe(5000);
    expect(slow.keepaliveTimeoutMs).toBe(5000 + LINK_RTT_ALLOWANCE_MAX_MS);
    const both = parseCoordinatorConfig({ TVARR_HEARTBEAT_INTERVAL_MS: '300', TVARR_WORKER_LOSS_DEADLINE_MS: '1500' }).liveness;
    expect(both).toMatchObject(deriveLiveness(300, 1500));
    expect(() => parseCoordinatorConfig({ TVARR_HEARTBEAT_INTERVAL_MS: '2000', TVARR_WORKER_LOSS_DEADLINE_MS: '1500' })).toThrow(ConfigError);
  });

  test("the coordinator's gRPC keepalive is derived from the same numbers", () => {
    const c = parseCoordinatorConfig({}).liveness;
    const o = grpcServerOptions({ ...c, maxMessageBytes: 4 << 20 });
    expect(o['grpc.keepalive_time_ms']).toBe(DEFAULT_LIVENESS.keepaliveTimeMs);
    expect(o['grpc.keepalive_timeout_ms']).toBe(c.workerLossDeadlineMs + LINK_RTT_ALLOWANCE_MAX_MS);
  });

  test("the worker's keepalive defaults notice a frozen coordinator within the same deadline", () => {
    const w = parseWorkerConfig({}, hw);
    expect(w.keepaliveTimeMs).toBe(DEFAULT_LIVENESS.keepaliveTimeMs);
    expect(w.keepaliveTimeoutMs).toBe(DEFAULT_LIVENESS.workerLossDeadlineMs + LINK_RTT_ALLOWANCE_MAX_MS);
    const o = channelOptions(w);
    expect(o['grpc.keepalive_time_ms']).toBe(DEFAULT_LIVENESS.keepaliveTimeMs);
    expect(o['grpc.keepalive_timeout_ms']).toBe(DEFAULT_LIVENESS.keepaliveTimeoutMs);
  });

  test('a deadline that is not longer than the interval is refused', () => {
    expect(() => deriveLiveness(500, 500)).toThrow(RangeError);
  });
});
