// Where a new HLS run's discontinuity sequence (EXT-X-DISCONTINUITY-SEQUENCE) starts: one
// past the highest any earlier run of the same playlist published, kept in the database
// (settings `hls_discontinuity:<key>`) so that a restarted coordinator, or another one
// taking the variant over, goes on forward (RFC 8216 6.2.2: never decrease), yet the
// number stays small: it grows by one per run and one per discontinuity, not with time.
//
// Why not the start time, as the media sequence is (sequence-base.ts): hls.js keeps one
// timestamp origin per discontinuity sequence in a sparse array and walks it from index 0
// on every media playlist load (stream-controller onLevelLoaded, `initPTS.some`), so a
// sequence of 58 million (half seconds since 2026-01-01, in December 2026) cost it ~2.2 s
// of main thread per load on a 2-core machine: with a 2 s target duration the page did
// little else, fragments were fetched and appended seconds late, playback stalled 2-4 s
// and a level switch took 4-8 s (found by tests/e2e/ladder.hlsjs-switch.test.ts).
//
// Writes: one at a run's start, one per discontinuity (rare: failovers, timeline breaks),
// never per segment. A compare-and-set on the row, so coordinators sharing the database
// never hand out one number twice. When the database cannot be reached the run goes on
// from this process's own high-water mark (logged): HLS does not stop for an outage.
import { and, eq } from 'drizzle-orm';
import type { Logger } from '../../../common/log.ts';
import type { Store } from '../../db/store.ts';

/** Hands out discontinuity sequence bases, and hears of the numbers runs went on to. */
export interface DiscontinuityLedger {
  /** The base for a new run of `key`: past every number an earlier run of it published. */
  startRun(key: string): Promise<number>;
  /** A run of `key` published a segment with discontinuity sequence `sequence`. */
  published(key: string, sequence: number): void;
}

const SETTING_PREFIX = 'hls_discontinuity:';
const CAS_TRIES = 8;

/** In this process only: for tests, and the fallback of the stored ledger. */
export class MemoryDiscontinuityLedger implements DiscontinuityLedger {
  private readonly highest = new Map<string, number>();

  async startRun(key: string): Promise<number> {
    return this.take(key);
  }

  /** Synchronous form of startRun. */
  take(key: string): number {
    const seen = this.highest.get(key);
    const base = seen === undefined ? 0 : seen + 1;
    this.highest.set(key, base);
    return base;
  }

  published(key: string, sequence: number): void {
    this.raise(key, sequence);
  }

  raise(key: string, sequence: number): void {
    if (sequence > (this.highest.get(key) ?? -1)) this.highest.set(key, sequence);
  }
}

export class StoredDiscontinuityLedger implements DiscontinuityLedger {
  private readonly local = new MemoryDiscontinuityLedger();
  /** Writes for one key run one after the other (a run's start before its discontinuities). */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  startRun(key: string): Promise<number> {
    return this.serialize(key, async () => {
      try {
        const base = await this.update(key, (stored) => (stored === null ? 0 : stored + 1));
        this.local.raise(key, base);
        return base;
      } catch (err) {
        const base = this.local.take(key);
        this.log.warn('hls discontinuity sequence not stored; going on from this process', { key, base, error: String(err) });
        return base;
      }
    });
  }

  published(key: string, sequence: number): void {
    this.local.raise(key, sequence);
    void this.serialize(key, async () => {
      try {
        await this.update(key, (stored) => Math.max(stored ?? -1, sequence));
      } catch (err) {
        this.log.warn('hls discontinuity sequence not stored', { key, sequence, error: String(err) });
      }
    });
  }

  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return next;
  }

  /** Compare-and-set of the stored number (null: none yet); returns what was written. */
  private async update(key: string, next: (stored: number | null) => number): Promise<number> {
    const { db, t } = this.store;
    const settingKey = SETTING_PREFIX + key;
    for (let i = 0; i < CAS_TRIES; i++) {
      const [row] = await db.select({ value: t.settings.value }).from(t.settings).where(eq(t.settings.key, settingKey)).limit(1);
      if (!row) {
        const value = next(null);
        const inserted = await db.insert(t.settings).values({ key: settingKey, value: String(value), updatedAt: this.now() }).onConflictDoNothing().returning({ key: t.settings.key });
        if (inserted.length) return value;
        continue;
      }
      const stored = Number(row.value);
      const value = next(Number.isSafeInteger(stored) ? stored : null);
      if (String(value) === row.value) return value;
      const updated = await db
        .update(t.settings)
        .set({ value: String(value), updatedAt: this.now() })
        .where(and(eq(t.settings.key, settingKey), eq(t.settings.value, row.value)))
        .returning({ key: t.settings.key });
      if (updated.length) return value;
    }
    throw new Error(`${settingKey}: changed under us ${CAS_TRIES} times`);
  }
}
