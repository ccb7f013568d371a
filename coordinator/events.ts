// Typed lifecycle events. Metrics, the page's live updates and the tests all listen here
// instead of polling or sleeping.
import { EventEmitter } from 'node:events';
import type { SourceEventKind } from './streams/source-events';

export interface CoordinatorEvents {
  'worker:registered': { workerId: string; name: string; reconnect: boolean };
  'worker:lost': { workerId: string; reason: string };
  'worker:state': { workerId: string; state: string };
  // A worker row was deleted (admin DELETE or retention prune) with its per-worker counters.
  'worker:removed': { workerId: string; reason: string };
  'job:assigned': { jobId: string; runId: string; workerId: string; encoder: string; attempt: number };
  'job:started': { jobId: string; workerId: string };
  'job:ended': { jobId: string; workerId: string | null; state: 'failed' | 'completed' | 'cancelled'; reason: string | null; cause?: string };
  'job:reassigned': { runId: string; fromJobId: string; attempt: number };
  'job:rejected': { jobId: string; workerId: string; reason: string };
  'run:failed': { runId: string; reason: string };
  // What a source did (coordinator/streams/source-events.ts); restart: its variants restart now.
  'source:event': { sourceId: string; kind: SourceEventKind; restart: boolean };
  // The variant watchdog found an attempt's output stalled and restarted it.
  'variant:stalled': { variant: string; jobId: string; workerId: string; reason: string };
  // Emitted once per attempt when it ends: source bytes sent to the worker, output received.
  'bytes:relayed': { workerId: string; bytesIn: number; bytesOut: number };
  // One scheduler selection (candidate query + claim): feeds the selection-latency histogram.
  'scheduler:selected': { durationMs: number; found: boolean };
  // This coordinator's event loop lags past TVARR_OVERLOAD_LAG_MS (new viewers refused), or is back under half of it.
  'coordinator:load': { state: 'accepting' | 'overloaded'; lagMs: number };
}

export type EventName = keyof CoordinatorEvents;

export class CoordinatorEventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit<E extends EventName>(event: E, payload: CoordinatorEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  on<E extends EventName>(event: E, listener: (payload: CoordinatorEvents[E]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  /** Resolves with the first event of this name that matches. */
  waitFor<E extends EventName>(event: E, match: (payload: CoordinatorEvents[E]) => boolean = () => true): Promise<CoordinatorEvents[E]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        if (!match(payload)) return;
        off();
        resolve(payload);
      });
    });
  }
}
