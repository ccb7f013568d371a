// Proof that the scheduler's read model equals the truth: compares every
// scheduler_slots row with scheduler_slot_source, which recomputes it from workers,
// worker_encoders and the jobs table. Tests run it after every kind of write; an
// operator can run it on a live database (it only reads).
import { sql } from 'drizzle-orm';
import type { Store } from '../db/store';

export interface SlotDrift {
  /** rows the triggers left that the truth does not have (or has with other values) */
  stale: Record<string, unknown>[];
  /** rows the truth has that scheduler_slots lacks (or has with other values) */
  missing: Record<string, unknown>[];
}

export async function checkSlotDrift(store: Store): Promise<SlotDrift> {
  return {
    stale: await store.rows(sql`SELECT * FROM scheduler_slots EXCEPT SELECT * FROM scheduler_slot_source`),
    missing: await store.rows(sql`SELECT * FROM scheduler_slot_source EXCEPT SELECT * FROM scheduler_slots`),
  };
}
