// Ladder jobs: the renditions of one ladder of one source made by one job that decodes the
// source once (proto TranscodeSpec.renditions), when one worker can take the whole ladder.
//
// Each rendition stays a variant of its own (streams/variant-run.ts: its shared buffer, HLS
// segmenter, clients, watchdog, failover). What changes is where its attempt's output
// comes from: instead of a job of its own, a *share* of the ladder job (an ActiveJob that
// gets its rendition's program, cut by streams/ladder/program-split.ts). So:
// - the first rendition asked for starts the ladder job; the others join it (their share
//   begins at their video's next keyframe, with PAT and PMT first);
// - the ladder job is fed the source once, here, not by each rendition;
// - a rendition that lets go of its share (its last viewer left) leaves the job running for
//   the others; the job is cancelled when no share is left;
// - the job's end (its worker died, FFmpeg failed) ends every share with that end, so each
//   rendition fails over as it always does: its retries ask here again, the first starts a
//   new ladder job on another worker and the others join it (renditions key the source's
//   keyframes, so each joins at the frame after its last one delivered);
// - a restart after a source change or a stall takes no share of the running job (it was
//   opened for the old content): the first restart starts a new ladder job and the others
//   join that one; the old job ends with its last share;
// - no worker can take the whole ladder (slots, Register.max_renditions): null, and the
//   rendition runs as a job of its own, aligned with the others all the same.
// Cost: a ladder job holds one slot per rendition (jobs.slots), like separate jobs, since a
// slot is one encoder; what it saves is the decodes (and the source fan-out to workers).
import type { SourceRow } from '../catalog/catalog-store';
import type { CoreContext } from '../context';
import { AppError } from '../errors';
import type { SourceUpstream } from '../streams/source-upstream';
import { ProgramSplitter } from '../streams/ladder/program-split';
import { ActiveJob } from './active-job';
import type { JobSupervisor } from './job-supervisor';
import type { ProfileRow } from './transcode-spec';
import { feedJob } from './feed-job';

/** A ladder whose renditions can be one job: 2 or more, one codec and preference. */
export interface LadderPlan {
  ladderId: string;
  /** The renditions' profiles, in the ladder's order. */
  profiles: ProfileRow[];
}

/** Whether these renditions can be encoded by one job (one codec, one encoder choice). */
export function canShareJob(profiles: readonly ProfileRow[]): boolean {
  if (profiles.length < 2) return false;
  const [first] = profiles;
  return profiles.every((p) => p.videoCodec === first!.videoCodec && p.encoderPreference === first!.encoderPreference && p.videoCodec !== 'copy');
}

export interface ShareRequest {
  source: SourceRow;
  plan: LadderPlan;
  profileId: string;
  excludeWorkerIds?: readonly string[];
  /** Where the ladder job's input starts when this request starts one. */
  input: { fromLatestKeyframe?: boolean; atOrBeforePts?: number };
}

class RunningLadderJob {
  /** Profile id -> its share and its program's index (program index + 1 is its number). */
  private readonly shares = new Map<string, { share: ActiveJob; index: number }>();
  private readonly splitter: ProgramSplitter;
  /** False once a restart asked for a new job: no new share joins this one. */
  joinable = true;

  constructor(
    readonly key: string,
    readonly job: ActiveJob,
    private readonly plan: LadderPlan,
    private readonly supervisor: JobSupervisor,
  ) {
    this.splitter = new ProgramSplitter(plan.profiles.length);
    job.onOutput = (chunk) => this.output(chunk);
    job.onEnd((end) => {
      const shares = [...this.shares.values()];
      this.shares.clear();
      for (const s of shares) s.share.finish(end);
    });
  }

  get usable(): boolean {
    return this.joinable && !this.job.ended;
  }

  get shareCount(): number {
    return this.shares.size;
  }

  share(profileId: string): ActiveJob {
    const index = this.plan.profiles.findIndex((p) => p.id === profileId);
    if (index < 0) throw new AppError('invalid_spec', `profile '${profileId}' is not a rendition of ladder '${this.plan.ladderId}'`);
    // A second share for one rendition replaces the first (its run has moved on).
    this.shares.get(profileId)?.share.release?.('replaced by a new share');
    const share = new ActiveJob({ ...this.job.info });
    share.inputFedElsewhere = true;
    share.release = (reason) => this.release(profileId, share, reason);
    this.splitter.startAtKeyframe(index);
    this.shares.set(profileId, { share, index });
    return share;
  }

  private output(chunk: Uint8Array): void {
    const parts = this.splitter.push(chunk);
    for (const { share, index } of this.shares.values()) {
      const part = parts[index];
      share.progress = this.job.progress;
      if (part && part.length > 0) share.handleOutput(part);
    }
  }

  private release(profileId: string, share: ActiveJob, reason: string): void {
    const held = this.shares.get(profileId);
    if (held?.share !== share) return;
    this.shares.delete(profileId);
    // Nobody reads its program now: the splitter stops copying it.
    this.splitter.drop(held.index);
    share.finish({ state: 'cancelled', reason });
    // A restart (source change, stall): this job was opened for what came before.
    if (reason.startsWith('restart')) this.joinable = false;
    if (this.shares.size === 0) this.supervisor.cancel(this.job.jobId, `no rendition uses it any more (last: ${reason})`);
  }
}

export class LadderJobs {
  private readonly running = new Map<string, RunningLadderJob>();
  private readonly starting = new Map<string, Promise<RunningLadderJob | null>>();
  // Attempts of one source x ladder share a run id (the jobs history lists them together).
  private readonly runIds = new Map<string, { runId: string; attempt: number }>();

  constructor(
    private readonly ctx: CoreContext,
    private readonly supervisor: JobSupervisor,
    private readonly upstreamFor: (source: SourceRow) => SourceUpstream,
  ) {}

  /** Live ladder jobs (for the API): key "source/ladder" -> job id and the renditions it serves. */
  liveJobs(): { key: string; jobId: string; shares: number }[] {
    return [...this.running.values()].map((r) => ({ key: r.key, jobId: r.job.jobId, shares: r.shareCount }));
  }

  /**
   * A share of the source's ladder job for `profileId`: the running one, the one being
   * started, or a new one. null: no worker can take the whole ladder (the caller runs the
   * rendition as a job of its own).
   */
  async share(req: ShareRequest): Promise<ActiveJob | null> {
    const key = `${req.source.id}/${req.plan.ladderId}`;
    const excluded = new Set(req.excludeWorkerIds ?? []);
    const fits = (r: RunningLadderJob | null | undefined): r is RunningLadderJob => !!r && r.usable && !excluded.has(r.job.info.workerId);
    const now = this.running.get(key);
    if (fits(now)) return now.share(req.profileId);
    // Another rendition is starting one: join it, or fall back with it when it found no worker.
    const pending = this.starting.get(key);
    if (pending) {
      const started = await pending;
      if (started === null) return null;
      if (fits(started)) return started.share(req.profileId);
    }
    let start = this.starting.get(key);
    if (!start) {
      start = this.start(key, req).finally(() => this.starting.delete(key));
      this.starting.set(key, start);
    }
    const started = await start;
    return fits(started) ? started.share(req.profileId) : null;
  }

  private async start(key: string, req: ShareRequest): Promise<RunningLadderJob | null> {
    const run = this.runIds.get(key);
    const attempt = (run?.attempt ?? 0) + 1;
    let job: ActiveJob;
    try {
      job = await this.supervisor.dispatchLadder({
        runId: run?.runId,
        sourceId: req.source.id,
        ladderId: req.plan.ladderId,
        profiles: req.plan.profiles,
        attempt,
        excludeWorkerIds: req.excludeWorkerIds,
      });
    } catch (err) {
      if (err instanceof AppError && err.code === 'no_capacity') {
        this.ctx.log.info('ladder runs as separate jobs: no worker takes it whole', { ladder: key, reason: err.message });
        return null;
      }
      throw err;
    }
    this.runIds.set(key, { runId: job.info.runId, attempt });
    const running = new RunningLadderJob(key, job, req.plan, this.supervisor);
    const previous = this.running.get(key);
    this.running.set(key, running);
    job.onEnd(() => {
      if (this.running.get(key) === running) this.running.delete(key);
    });
    // A job another one replaced (restart) that still has shares goes on until they let go.
    if (previous && previous.shareCount === 0 && !previous.job.ended) this.supervisor.cancel(previous.job.jobId, 'replaced by a new ladder job');
    feedJob(job, this.upstreamFor(req.source).subscribe(req.input));
    this.ctx.log.info('ladder job started', { ladder: key, jobId: job.jobId, workerId: job.info.workerId, renditions: req.plan.profiles.map((p) => p.id) });
    return running;
  }
}
