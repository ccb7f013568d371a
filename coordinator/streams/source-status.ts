// What /api/sources and the Transcoders page show of a source's upstream: which URL is
// live, each URL's last error, outages, switches and source events by kind.
import type { SourceUpstream } from './source-upstream';

export interface SourceStatusView {
  connected: boolean;
  liveUrl: number;
  urls: { url: string; role: 'primary' | 'backup'; live: boolean; lastError: string | null; lastErrorAt: number | null; lastOkAt: number | null }[];
  switches: number;
  outageSince: number | null;
  timeline: { breaks: number; wraps: number; continuityErrors: number };
  events: Record<string, number>;
  lastEvent: { kind: string; detail: string; at: number } | null;
  unsupported: string | null;
}

export function sourceStatusOf(up: SourceUpstream, connected: boolean): SourceStatusView {
  const { breaks, wraps, continuityErrors } = up.timeline;
  const last = up.events.latest;
  return {
    connected,
    liveUrl: up.urls.active,
    urls: up.urls.health.map((h, i) => ({
      url: h.displayUrl,
      role: h.role,
      live: connected && i === up.urls.active,
      lastError: h.lastError,
      lastErrorAt: h.lastErrorAt,
      lastOkAt: h.lastOkAt,
    })),
    switches: up.urls.switches,
    outageSince: up.downSince,
    timeline: { breaks, wraps, continuityErrors },
    events: Object.fromEntries(up.events.counts),
    lastEvent: last && { kind: last.kind, detail: last.detail, at: last.at },
    unsupported: up.unsupported,
  };
}
