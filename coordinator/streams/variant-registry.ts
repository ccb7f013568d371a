// Live variants and source connections. The first client of a variant starts it; every
// later client joins its shared buffer, so many clients share one transcode.
import { mediaSequenceBase } from './hls/sequence-base';
import { getProfile, getSource, type SourceRow } from '../catalog/catalog-store';
import { laddersUsingProfile } from '../catalog/ladder-store';
import { canShareJob, LadderJobs, type LadderPlan } from '../jobs/ladder-jobs';
import type { ProfileRow } from '../catalog/catalog-store';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { JobSupervisor } from '../jobs/job-supervisor';
import type { JobMover } from '../workers/drain-controller';
import { SourceUpstream } from './source-upstream';
import { sourceStatusOf, type SourceStatusView } from './source-status';
import { VariantRun, variantKey } from './variant-run';
import { SegmentGrid } from './segment-grid';
import { DEFAULT_SEGMENTER_OPTIONS } from './hls/ts-segmenter';

interface RunEntry {
  run: VariantRun;
  started: Promise<void>;
  waiting: number;
}

export class VariantRegistry implements JobMover {
  // `waiting`: clients whose request is waiting for the run to start. They count against
  // the client limits like readers, or a burst on a cold variant would pass them all.
  private readonly runs = new Map<string, RunEntry>();
  private readonly upstreams = new Map<string, SourceUpstream>();
  // What each source's last upstream ended with (its URLs' errors): one entry per source.
  private readonly lastStatus = new Map<string, SourceStatusView>();
  // Each source's segment grid: its renditions' cut points and numbers. Outlives any one
  // upstream connection, so the numbers of a variant that outlives one keep counting up.
  private readonly grids = new Map<string, SegmentGrid>();
  // Recently ended runs with their reason, newest first: "why did my stream stop?"
  readonly recentlyEnded: { variant: string; reason: string; endedAt: number }[] = [];
  /** Ladders whose renditions one job makes (jobs/ladder-jobs.ts). */
  readonly ladderJobs: LadderJobs;

  constructor(
    private readonly ctx: CoreContext,
    private readonly supervisor: JobSupervisor,
  ) {
    this.ladderJobs = new LadderJobs(ctx, supervisor, (s) => this.upstreamFor(s));
    // Placement and job lanes size themselves from the source's measured bitrate.
    supervisor.sourceKbps = (sourceId) => this.upstreams.get(sourceId)?.bitrateKbps ?? 0;
  }

  /** Opens a client stream on a variant, starting its job if it is not running. */
  async openClientStream(sourceId: string, profileId: string): Promise<{ stream: ReadableStream<Uint8Array>; run: VariantRun }> {
    const source = await getSource(this.ctx.store, sourceId);
    const profile = await getProfile(this.ctx.store, profileId);
    // From here to entry.waiting += 1 nothing awaits: of many requests for a cold variant
    // the first to get here creates its run and every later one joins it.
    const key = variantKey(source.id, profile.id);
    let entry = this.runs.get(key);
    this.checkClientLimits(entry);
    if (!entry) {
      const run = new VariantRun(
        {
          ctx: this.ctx,
          supervisor: this.supervisor,
          upstreamFor: (s) => this.upstreamFor(s),
          upstreamOf: (id) => this.upstreams.get(id),
          segmentGridFor: (id) => this.segmentGridFor(id),
          isLadderRendition: async (id) => (await laddersUsingProfile(this.ctx.store, id)).length > 0,
          ladderPlanFor: (id) => this.ladderPlanFor(id),
          ladderShare: (req) => this.ladderJobs.share(req),
          onClosed: (r, reason) => {
            if (this.runs.get(r.key)?.run === r) this.runs.delete(r.key);
            this.recentlyEnded.unshift({ variant: r.key, reason, endedAt: this.ctx.clock.now() });
            this.recentlyEnded.length = Math.min(this.recentlyEnded.length, 50);
          },
        },
        source,
        profile,
      );
      const started = run.start();
      entry = { run, started, waiting: 0 };
      this.runs.set(key, entry);
      started.catch((err: unknown) => {
        // The reason stays visible in /api/variants (recentlyEnded) and on the page.
        run.lastError = err instanceof Error ? err.message : String(err);
        run.stop(`start failed: ${run.lastError}`);
      });
    }
    // Counted from the check above to the moment it becomes a reader (same tick), so no
    // other request can slip in between.
    entry.waiting += 1;
    try {
      await entry.started;
    } finally {
      entry.waiting -= 1;
    }
    return { stream: entry.run.createClientStream(), run: entry.run };
  }

  /** TVARR_MAX_CLIENTS_PER_VARIANT and TVARR_MAX_CLIENTS: refuse a new client with 503 rather than overload. */
  private checkClientLimits(entry: RunEntry | undefined): void {
    const { maxClientsPerVariant, maxClients } = this.ctx.config;
    const clientsOf = (e: RunEntry) => e.run.buffer.readerCount + e.waiting;
    if (entry && clientsOf(entry) >= maxClientsPerVariant) {
      throw new AppError('no_capacity', `this variant already has ${maxClientsPerVariant} clients (TVARR_MAX_CLIENTS_PER_VARIANT)`);
    }
    let total = 0;
    for (const e of this.runs.values()) total += clientsOf(e);
    if (total >= maxClients) throw new AppError('no_capacity', `the coordinator already serves ${maxClients} clients (TVARR_MAX_CLIENTS)`);
  }

  /**
   * The first ladder (in id order) listing this profile whose renditions one job can make
   * (canShareJob: two or more, one codec and encoder preference), with its profiles in
   * order; null when there is none (the rendition runs as a job of its own).
   */
  private async ladderPlanFor(profileId: string): Promise<LadderPlan | null> {
    if (!this.ctx.config.ladderJobs) return null;
    for (const ladder of await laddersUsingProfile(this.ctx.store, profileId)) {
      const profiles = await Promise.all(ladder.renditions.map((id) => getProfile(this.ctx.store, id).catch(() => null)));
      const known = profiles.filter((p): p is ProfileRow => p !== null);
      if (known.length === profiles.length && canShareJob(known)) return { ladderId: ladder.id, profiles: known };
    }
    return null;
  }

  segmentGridFor(sourceId: string): SegmentGrid {
    let grid = this.grids.get(sourceId);
    if (!grid) this.grids.set(sourceId, (grid = new SegmentGrid(DEFAULT_SEGMENTER_OPTIONS.targetSeconds, mediaSequenceBase(this.ctx.clock.now()))));
    return grid;
  }

  upstreamFor(source: SourceRow): SourceUpstream {
    let up = this.upstreams.get(source.id);
    if (!up) {
      // A new connection restamps from the source's own timestamps: a new timeline.
      const segmentGrid = this.segmentGridFor(source.id);
      segmentGrid.newTimeline();
      const created: SourceUpstream = new SourceUpstream(source.id, [source.url, ...source.backupUrls], {
        ffmpegPath: this.ctx.config.ffmpegPath,
        sourceSchemes: this.ctx.config.sourceSchemes,
        timeoutMs: this.ctx.config.upstreamTimeoutMs,
        queueBytes: this.ctx.config.jobInputQueueBytes,
        idleGraceMs: this.ctx.config.liveness.idleGraceMs,
        timings: this.ctx.config.sources,
        segmentGrid,
        log: this.ctx.log,
        onEvent: (event) => {
          this.ctx.events.emit('source:event', { sourceId: source.id, kind: event.kind, restart: event.restart });
          for (const run of this.runsOf(source.id)) run.sourceEvent(event);
        },
        onStopped: (reason) => {
          if (this.upstreams.get(source.id) === created) this.upstreams.delete(source.id);
          this.lastStatus.set(source.id, sourceStatusOf(created, false));
          // An outage past its limit ends the source's variants with the reason (viewers are
          // closed cleanly); an upstream that stopped for want of subscribers has none left.
          if (created.downSince !== null) for (const run of this.runsOf(source.id)) run.stop(reason);
        },
      });
      up = created;
      this.upstreams.set(source.id, up);
    }
    return up;
  }

  private runsOf(sourceId: string): VariantRun[] {
    return this.liveRuns().filter((r) => r.source.id === sourceId);
  }

  /** /api/sources: the live upstream's state, else what the last one ended with, else null. */
  sourceStatus(sourceId: string): SourceStatusView | null {
    const up = this.upstreams.get(sourceId);
    if (up) return sourceStatusOf(up, up.downSince === null && up.lastDataAt > 0);
    return this.lastStatus.get(sourceId) ?? null;
  }

  /** The upstream a variant reads now, if any (the watchdog asks whether input is arriving). */
  upstreamOf(sourceId: string): SourceUpstream | undefined {
    return this.upstreams.get(sourceId);
  }

  liveRuns(): VariantRun[] {
    return [...this.runs.values()].map((e) => e.run);
  }

  async moveJobOff(jobId: string, reason: string): Promise<void> {
    // A ladder job is the current job of each of its renditions' runs: every one moves.
    const runs = this.liveRuns().filter((r) => r.currentJob?.jobId === jobId);
    if (runs.length > 0) await Promise.all(runs.map((r) => r.moveJobOff(jobId, reason)));
    else this.supervisor.cancel(jobId, reason);
  }

  stopAll(reason: string): void {
    for (const { run } of [...this.runs.values()]) run.stop(reason);
    for (const up of [...this.upstreams.values()]) up.stop();
  }
}
