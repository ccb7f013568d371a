// Everything the coordinator's parts share, built once in main.ts (or by a test).
import type { CoordinatorConfig } from './config';
import type { Store } from './db/store';
import type { CoordinatorEventBus } from './events';
import type { Logger } from '../common/log';
import type { LoopLagReading } from './load/event-loop-lag';

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export interface CoreContext {
  config: CoordinatorConfig;
  store: Store;
  events: CoordinatorEventBus;
  log: Logger;
  clock: Clock;
  /**
   * This coordinator's id in the cluster (coordinator/cluster/membership.ts): written on
   * the workers it holds. Unset in unit tests that build a context by hand.
   */
  coordinatorId?: string;
  /** Cluster mode (PostgreSQL: several coordinators may share the database). */
  clustered?: boolean;
  /**
   * Cluster mode: the lease this coordinator holds for a source ({ownerId, token}), or null
   * when it holds none (coordinator/cluster/source-ownership.ts). Claims are fenced by it.
   */
  fenceFor?: (sourceId: string) => { ownerId: string; token: number } | null;
  /**
   * How late this coordinator's own event loop runs (coordinator/load/event-loop-lag.ts):
   * the variant watchdog does not count it as an attempt's silence, quarantine does not
   * count a worker lost while it lags. Unset in contexts a test builds by hand.
   */
  loopLag?: LoopLagReading;
}
