// Admission control for viewers: a coordinator whose event loop lags (event-loop-lag.ts)
// refuses NEW MPEG-TS viewers with 503 and Retry-After, and /healthz says so, so that a
// load balancer sends them to another coordinator, instead of taking them and slowing every
// viewer it has. Its viewers keep being served; a peer's mirror stream (/internal/stream)
// is never refused, since all of that peer's viewers hang on it.
//
// States: accepting -> overloaded when the average lag reaches TVARR_OVERLOAD_LAG_MS;
// overloaded -> accepting once it is back under half of that (hysteresis: no flapping
// around the threshold). Both changes are logged and emitted (coordinator:load).
// TVARR_OVERLOAD_LAG_MS=0 turns it off.
import type { Logger } from '../../common/log';
import type { CoordinatorEventBus } from '../events';
import type { EventLoopLag } from './event-loop-lag';

export type LoadState = 'accepting' | 'overloaded';

export interface AdmissionRefusal {
  lagMs: number;
  /** Seconds a refused viewer should wait before asking again (the Retry-After header). */
  retryAfterS: number;
}

export class ViewerAdmission {
  private current: LoadState = 'accepting';
  /** New viewers refused while overloaded, since start. */
  refused = 0;

  constructor(
    private readonly lag: EventLoopLag,
    private readonly thresholdMs: number,
    private readonly log: Logger,
    private readonly events?: CoordinatorEventBus,
  ) {
    if (thresholdMs > 0) lag.onSample((lagMs) => this.update(lagMs));
  }

  get state(): LoadState {
    return this.current;
  }

  /** The threshold in force (0: admission control is off). */
  get overloadLagMs(): number {
    return this.thresholdMs;
  }

  /** null: take the viewer. Otherwise the refusal to answer with (and it is counted). */
  admitViewer(now?: number): AdmissionRefusal | null {
    if (this.thresholdMs <= 0) return null;
    // A stall in progress counts at once (the timer that would report it has not fired).
    const lagMs = this.lag.lagMs(now);
    this.update(lagMs);
    if (this.current === 'accepting') return null;
    this.refused += 1;
    return { lagMs: Math.round(lagMs), retryAfterS: retryAfterSeconds(lagMs) };
  }

  /** For /healthz: overloaded now, and the lag it is judged on. */
  health(now?: number): { overloaded: boolean; lagMs: number } {
    const lagMs = this.lag.lagMs(now);
    if (this.thresholdMs > 0) this.update(lagMs);
    return { overloaded: this.current === 'overloaded', lagMs: Math.round(lagMs) };
  }

  private update(lagMs: number): void {
    const next: LoadState = this.current === 'accepting' ? (lagMs >= this.thresholdMs ? 'overloaded' : 'accepting') : lagMs < this.thresholdMs / 2 ? 'accepting' : 'overloaded';
    if (next === this.current) return;
    this.current = next;
    const lag = Math.round(lagMs);
    if (next === 'overloaded') this.log.warn('coordinator overloaded: refusing new viewers', { lagMs: lag, thresholdMs: this.thresholdMs });
    else this.log.info('coordinator accepts new viewers again', { lagMs: lag, refusedSoFar: this.refused });
    this.events?.emit('coordinator:load', { state: next, lagMs: lag });
  }
}

/** Long enough for the average to fall back (it halves in ~350 ms once the lag is gone), 1-10 s. */
export function retryAfterSeconds(lagMs: number): number {
  return Math.min(10, Math.max(1, Math.ceil(lagMs / 1000) + 1));
}
