// What a source does, as data: the upstream (source-upstream.ts) emits these, and each
// variant run of the source reacts (variant-run.ts) with the same splice machinery it uses
// for a failover. Counted per kind in /metrics and shown in /api/variants and /api/sources.

export type SourceEventKind =
  /** The PMT changed (version, stream types, PIDs), or a new SPS/VPS or audio format. */
  | 'program-changed'
  /** Timestamps jumped (back, or ahead past the threshold): hidden by restamping, no restart. */
  | 'timeline-break'
  /** Continuity counters broke without a discontinuity flag (loss upstream, a restarted mux). */
  | 'continuity-error'
  /** The live connection failed; reconnecting (the outage lasts until 'reconnected'). */
  | 'outage'
  /** A new connection delivers MPEG-TS again after an outage. */
  | 'reconnected'
  /** Another URL of the source (a backup, or the primary again) is live now. */
  | 'switched'
  /** The program cannot be followed (a PMT over several packets, no keyframes): a reason only. */
  | 'unsupported';

export const SOURCE_EVENT_KINDS: readonly SourceEventKind[] = [
  'program-changed',
  'timeline-break',
  'continuity-error',
  'outage',
  'reconnected',
  'switched',
  'unsupported',
];

export interface SourceEvent {
  kind: SourceEventKind;
  /** Human-readable, never a URL with credentials (source-policy.ts maskSecrets applied). */
  detail: string;
  at: number;
  /**
   * From the upstream's current GOP on, the source carries new content (another codec,
   * a new connection): every running attempt must be replaced by one fed from that GOP.
   * Set on the event that is emitted once that GOP's keyframe has arrived.
   */
  restart: boolean;
}

/** The latest events of a source, newest first, bounded (a source that flips every second). */
export class SourceEventLog {
  private readonly items: SourceEvent[] = [];
  readonly counts = new Map<SourceEventKind, number>();

  constructor(private readonly capacity = 20) {}

  add(event: SourceEvent): void {
    this.counts.set(event.kind, (this.counts.get(event.kind) ?? 0) + 1);
    this.items.unshift(event);
    if (this.items.length > this.capacity) this.items.length = this.capacity;
  }

  get latest(): SourceEvent | null {
    return this.items[0] ?? null;
  }

  recent(): readonly SourceEvent[] {
    return this.items;
  }

  /** Events of `kind` since `since` (ms), among those kept. */
  countSince(kind: SourceEventKind, since: number): number {
    let n = 0;
    for (const e of this.items) if (e.kind === kind && e.at >= since) n++;
    return n;
  }
}
