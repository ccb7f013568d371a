// Why each worker is (or is not) a candidate for a profile: the operator's view of the
// scheduler. Pure functions over plain facts, so the ranking rules can be tested
// without a database and compared against the SQL query's order.
import type { EncoderKind, WorkerState } from '../domain';
import { LINK_MARGIN, linkCapacityKbps, linkCarries, MAX_JOB_STREAM_LANES } from '../../common/job-lanes';
import { matchesPreference } from './list-candidate-workers';

export interface WorkerFacts {
  workerId: string;
  name: string;
  state: WorkerState;
  quarantinedUntil: number | null;
  quarantineReason: string | null;
  speedFps: number;
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
  /** live (pending or running) jobs, counted from the jobs table */
  jobs: number;
  gpuJobs: number;
  cpuJobs: number;
  encoders: { encoder: string; codec: string; kind: EncoderKind; family: string }[];
  /** the control stream's measured RTT (ms); null/absent = not measured (offline, older worker) */
  rttMs?: number | null;
  /** renditions of one ladder job it encodes (Register.max_renditions); absent = 0 (not connected, or none) */
  maxRenditions?: number;
}

export interface ExplainRequest {
  codec: string;
  preference: string | null;
  now: number;
  /** the source's measured bitrate; absent or 0 = unknown, links are not judged */
  sourceKbps?: number;
  /**
   * Slots the job takes: 1 (default), or a ladder job's renditions, which then also need a
   * worker that runs ladder jobs that large (WorkerFacts.maxRenditions).
   */
  slots?: number;
}

export const EXCLUSION_CODES = [
  'offline',
  'draining',
  'quarantined',
  'no_encoder',
  'preference_mismatch',
  'full',
  'gpu_slots_full',
  'cpu_slots_full',
  'gpu_and_cpu_slots_full',
  'link_too_slow',
  'no_ladder_jobs',
] as const;
export type ExclusionCode = (typeof EXCLUSION_CODES)[number];

export interface CandidateExplanation {
  workerId: string;
  name: string;
  state: WorkerState;
  /** 1 = the worker the next job goes to; null when excluded */
  rank: number | null;
  /** the encoder it would use (eligible workers only) */
  encoder: string | null;
  kind: EncoderKind | null;
  excluded: { code: ExclusionCode; reason: string } | null;
  jobs: number;
  gpuJobs: number;
  cpuJobs: number;
  maxJobs: number;
  maxGpuJobs: number;
  maxCpuJobs: number;
  loadRatio: number;
  speedFps: number;
  /** measured RTT of the worker's link (ms), null when not measured */
  rttMs: number | null;
  /** what one job can carry over that link with the most lanes (kbit/s), null when not measured */
  linkCapacityKbps: number | null;
}

export interface Offer {
  workerId: string;
  encoder: string;
  kind: EncoderKind;
  loadRatio: number;
  speedFps: number;
}

/** Load ratio exactly as the scheduler_slot_source view computes it. */
export function loadRatioOf(f: Pick<WorkerFacts, 'jobs' | 'maxJobs'>): number {
  return f.maxJobs > 0 ? f.jobs / f.maxJobs : 1;
}

// SQLite's BINARY collation compares bytes; for the ASCII ids and encoder names used
// here that is the same as comparing UTF-16 code units.
const cmpText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The ranking, in TypeScript: the same ORDER BY as rankedCandidatesQuery. */
export function compareOffers(a: Offer, b: Offer): number {
  const kind = (a.kind === 'gpu' ? 0 : 1) - (b.kind === 'gpu' ? 0 : 1);
  if (kind !== 0) return kind;
  if (a.loadRatio !== b.loadRatio) return a.loadRatio - b.loadRatio;
  if (a.speedFps !== b.speedFps) return b.speedFps - a.speedFps;
  return cmpText(a.workerId, b.workerId) || cmpText(a.encoder, b.encoder);
}

function exclusionOf(f: WorkerFacts, req: ExplainRequest): { code: ExclusionCode; reason: string } | Offer {
  switch (f.state) {
    case 'offline':
      return { code: 'offline', reason: 'offline' };
    case 'draining':
      return { code: 'draining', reason: 'draining: takes no new jobs' };
    case 'online':
      break;
    default:
      return assertUnreachable(f.state);
  }
  if (f.quarantinedUntil !== null && f.quarantinedUntil > req.now) {
    const why = f.quarantineReason ? ` (${f.quarantineReason})` : '';
    return { code: 'quarantined', reason: `quarantined until ${new Date(f.quarantinedUntil).toISOString()}${why}` };
  }
  const forCodec = f.encoders.filter((e) => e.codec === req.codec);
  if (forCodec.length === 0) return { code: 'no_encoder', reason: `no encoder for ${req.codec}` };
  const matching = forCodec.filter((e) => matchesPreference(e, req.preference));
  if (matching.length === 0) {
    const have = forCodec.map((e) => e.encoder).sort().join(', ');
    return { code: 'preference_mismatch', reason: `preference mismatch: wants ${req.preference}, has ${have}` };
  }
  const need = req.slots ?? 1;
  if (need > 1 && (f.maxRenditions ?? 0) < need) {
    const has = f.maxRenditions ? `at most ${f.maxRenditions} renditions in one job` : 'no ladder jobs';
    return { code: 'no_ladder_jobs', reason: `runs ${has}; this ladder job has ${need} (TVARR_MAX_RENDITIONS on the worker)` };
  }
  const slotsText = need > 1 ? `, the ladder job needs ${need} free` : '';
  if (f.jobs + need > f.maxJobs) return { code: 'full', reason: `full: jobs ${f.jobs}/${f.maxJobs}${slotsText}` };
  const loadRatio = loadRatioOf(f);
  const open = matching
    .filter((e) => (e.kind === 'gpu' ? f.gpuJobs + need <= f.maxGpuJobs : f.cpuJobs + need <= f.maxCpuJobs))
    .map((e): Offer => ({ workerId: f.workerId, encoder: e.encoder, kind: e.kind, loadRatio, speedFps: f.speedFps }))
    .sort(compareOffers);
  if (open[0]) return open[0];
  const gpu = matching.some((e) => e.kind === 'gpu');
  const cpu = matching.some((e) => e.kind === 'cpu');
  const gpuText = `GPU slots full: ${f.gpuJobs}/${f.maxGpuJobs}${slotsText}`;
  const cpuText = `CPU slots full: ${f.cpuJobs}/${f.maxCpuJobs}${slotsText}`;
  if (gpu && cpu) return { code: 'gpu_and_cpu_slots_full', reason: `${gpuText}; ${cpuText}` };
  return gpu ? { code: 'gpu_slots_full', reason: gpuText } : { code: 'cpu_slots_full', reason: cpuText };
}

function assertUnreachable(state: never): never {
  throw new Error(`unexpected worker state: ${String(state)}`);
}

/**
 * Every worker, eligible ones ranked 1..n (each by its best encoder, so rank 1 is what
 * rankedCandidatesQuery returns first), then excluded ones by id with the first reason
 * that applies, in the order the scheduler's filter checks them.
 */
export function explainCandidates(facts: readonly WorkerFacts[], req: ExplainRequest): CandidateExplanation[] {
  const rows = facts.map((f) => {
    const verdict = exclusionOf(f, req);
    const offer = 'code' in verdict ? null : verdict;
    const base: CandidateExplanation = {
      workerId: f.workerId,
      name: f.name,
      state: f.state,
      rank: null,
      encoder: offer?.encoder ?? null,
      kind: offer?.kind ?? null,
      excluded: 'code' in verdict ? verdict : null,
      jobs: f.jobs,
      gpuJobs: f.gpuJobs,
      cpuJobs: f.cpuJobs,
      maxJobs: f.maxJobs,
      maxGpuJobs: f.maxGpuJobs,
      maxCpuJobs: f.maxCpuJobs,
      loadRatio: loadRatioOf(f),
      speedFps: f.speedFps,
      rttMs: f.rttMs ?? null,
      linkCapacityKbps: f.rttMs ? Math.round(linkCapacityKbps(f.rttMs)) : null,
    };
    return { row: base, offer };
  });
  // A link that cannot carry the source is passed over while another eligible worker's
  // can (claimJob's linkFits); with no such worker it stays ranked, as the last resort.
  const src = req.sourceKbps ?? 0;
  const slow = (r: (typeof rows)[number]) => r.offer !== null && !linkCarries(r.row.rttMs, src);
  if (rows.some((r) => r.offer !== null && !slow(r))) {
    for (const r of rows.filter(slow)) {
      r.row.excluded = {
        code: 'link_too_slow',
        reason: `link too slow: RTT ${Math.round(r.row.rttMs!)} ms carries ~${Math.round(r.row.linkCapacityKbps! / 100) / 10} Mbit/s per job (${MAX_JOB_STREAM_LANES} lanes); the source needs ${Math.round(src / 100) / 10} Mbit/s x ${LINK_MARGIN}`,
      };
      r.row.encoder = null;
      r.row.kind = null;
      r.offer = null;
    }
  }
  const eligible = rows.filter((r) => r.offer !== null).sort((a, b) => compareOffers(a.offer!, b.offer!));
  eligible.forEach((r, i) => (r.row.rank = i + 1));
  const excluded = rows.filter((r) => r.offer === null).sort((a, b) => cmpText(a.row.workerId, b.row.workerId));
  return [...eligible, ...excluded].map((r) => r.row);
}

/** One line for a 503: why no worker could take the job, by reason, a few examples each. */
export function summarizeExclusions(explained: readonly CandidateExplanation[], examples = 3): string {
  if (explained.length === 0) return 'no workers registered';
  const byCode = new Map<string, string[]>();
  for (const e of explained) {
    if (!e.excluded) continue;
    const list = byCode.get(e.excluded.code) ?? [];
    list.push(`${e.workerId} (${e.excluded.reason})`);
    byCode.set(e.excluded.code, list);
  }
  return [...byCode.values()]
    .map((l) => (l.length > examples ? `${l.slice(0, examples).join(', ')} and ${l.length - examples} more` : l.join(', ')))
    .join('; ');
}
