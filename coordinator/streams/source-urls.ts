// A source's URLs (the primary, then its backups in order) and how each one is doing:
// which is live, each one's last error, and when the primary may be taken back.
//
// Return to the primary: while a backup is live the primary is probed every
// probeIntervalMs with one short connection (source-probe.ts); once every probe has
// succeeded for primaryHoldMs the upstream moves back. One failed probe restarts the hold,
// so a primary that flaps is not taken back and dropped again every few seconds.
import { maskUrl } from './source-policy';

export interface UrlHealth {
  /** Masked for display (credentials removed): never the stored URL itself. */
  displayUrl: string;
  role: 'primary' | 'backup';
  lastError: string | null;
  lastErrorAt: number | null;
  /** When a connection to it last delivered MPEG-TS (live or probe). */
  lastOkAt: number | null;
}

export class SourceUrls {
  readonly health: UrlHealth[];
  /** Index of the URL the live connection uses (or tries). */
  active = 0;
  switches = 0;
  /** First of an unbroken run of successful primary probes, or null. */
  private primaryHealthySince: number | null = null;

  constructor(readonly urls: readonly string[]) {
    if (urls.length === 0) throw new RangeError('a source needs a URL');
    this.health = urls.map((url, i) => ({ displayUrl: maskUrl(url), role: i === 0 ? 'primary' : 'backup', lastError: null, lastErrorAt: null, lastOkAt: null }));
  }

  get activeUrl(): string {
    return this.urls[this.active]!;
  }

  get hasBackups(): boolean {
    return this.urls.length > 1;
  }

  label(index = this.active): string {
    return index === 0 ? 'primary' : `backup ${index}`;
  }

  failed(index: number, reason: string, now: number): void {
    const h = this.health[index]!;
    h.lastError = reason;
    h.lastErrorAt = now;
    if (index === 0) this.primaryHealthySince = null;
  }

  ok(index: number, now: number): void {
    this.health[index]!.lastOkAt = now;
  }

  /** The live URL failed: the next one in order (wrapping) becomes live. Returns true if it changed. */
  advance(): boolean {
    if (!this.hasBackups) return false;
    this.active = (this.active + 1) % this.urls.length;
    this.switches++;
    this.primaryHealthySince = null;
    return true;
  }

  /** A probe of the primary ended; true when the primary should be taken back now. */
  primaryProbed(ok: boolean, reason: string | null, now: number, holdMs: number): boolean {
    if (!ok) {
      this.failed(0, reason ?? 'probe failed', now);
      return false;
    }
    this.ok(0, now);
    this.primaryHealthySince ??= now;
    return now - this.primaryHealthySince >= holdMs;
  }

  /** Moves back to the primary (after primaryProbed said so). */
  returnToPrimary(): void {
    this.active = 0;
    this.switches++;
    this.primaryHealthySince = null;
  }
}
