// Relay capacity: how many bytes per second the coordinator takes in from a worker and
// fans out to clients, and what that costs it in CPU. The copy profile with a source
// served as fast as it is read makes the relay itself the bottleneck; 1 and 4 clients
// separate the per-byte-in cost from the per-byte-out cost.
//
// Measured twice in the same run: with the allocator setting processes start with
// (common/allocator-env.ts) and with mimalloc's defaults (freed pages go back to the OS
// after 100 ms, holes purged), as every process ran before issue 15. Each
// cluster gets one unrecorded warm-up run (JIT, allocator arenas), then `reps` runs per
// client count; the upper median by CPU per Mbit/s is reported.
import { ALLOCATOR_ENV } from '../common/allocator-env';
import { benchCluster, type Clip, ensureClip } from './common';
import { COPY_CASE, systemRun } from './data-path';

/** The allocator settings compared: the product's, then mimalloc's own defaults (before). */
export const RELAY_SETTINGS = [
  { name: `${Object.entries(ALLOCATOR_ENV).map(([k, v]) => `${k}=${v}`).join(' ')} (product)`, env: {} as Record<string, string> },
  { name: 'MIMALLOC_PURGE_DELAY=100 MIMALLOC_PURGE_HOLES=1 (mimalloc defaults, before)', env: { MIMALLOC_PURGE_DELAY: '100', MIMALLOC_PURGE_HOLES: '1' } },
] as const;

export interface RelayRow {
  /** Allocator setting of coordinator and worker (RELAY_SETTINGS[].name). */
  setting: string;
  clients: number;
  /** worker -> coordinator, Mbit/s (steady state) */
  inMbps: number;
  /** coordinator -> all clients, Mbit/s */
  outMbps: number;
  /** source -> coordinator -> worker, Mbit/s (the copy job's input: the same bytes) */
  sourceMbps: number;
  coordinatorCores: number;
  /** CPU milliseconds per second per Mbit/s of client output (= % of a core per 10 Mbit/s...) */
  cpuMsPerMbit: number;
  /** Mbit/s of client output one fully busy coordinator core would carry at this cost */
  projectedMbpsPerCore: number;
  workerCores: number;
  ffmpegCores: number;
  clientsCompleteShare: number;
  /** Runs measured for this row (the median is shown) and runs dropped as short. */
  runs: number;
  shortRuns: number;
}

export interface RelayResult {
  clip: Clip;
  rows: RelayRow[];
}

export async function benchRelay(o: { quick: boolean; log: (s: string) => void }): Promise<RelayResult> {
  const clip = await ensureClip('src', { size: '1280x720', seconds: o.quick ? 20 : 40, kbps: 8000, gop: 50 });
  const reps = o.quick ? 2 : 3;
  const rows: RelayRow[] = [];
  for (const setting of RELAY_SETTINGS) {
    const cluster = benchCluster(setting.env);
    try {
      await cluster.startCoordinator();
      await cluster.startWorker('relay');
      await cluster.createProfile(COPY_CASE.profile);
      o.log(`relay (${setting.name}): warm-up run`);
      await systemRun(cluster, COPY_CASE, clip, clip.frames, 'relay-warm', 1);
      let n = 0;
      for (const clients of [1, 4]) {
        const measured: RelayRow[] = [];
        let shortRuns = 0;
        // A run whose first client got under 95% of the frames was cut short by the
        // bench's own frame-counting reader falling out of the shared buffer's window at
        // these rates: dropped and repeated, up to 3 x reps tries in all.
        for (let tries = 0; measured.length < reps && tries < reps * 3; tries++) {
          o.log(`relay (${setting.name}): copy profile, ${clients} client(s)`);
          const r = await systemRun(cluster, COPY_CASE, clip, clip.frames, `relay-${n++}`, clients);
          await Bun.sleep(1500);
          if (r.framesReceived < clip.frames * 0.95 || !Number.isFinite(r.coordinatorCores)) {
            shortRuns++;
            o.log(`  short run: ${r.framesReceived}/${clip.frames} frames, dropped`);
            continue;
          }
          const inMbps = r.outMBps * 8;
          const outMbps = inMbps * clients;
          // Clients that received (nearly) everything the first one did: all of them kept up.
          const complete = r.clientBytes.filter((b) => b >= r.clientBytes[0]! * 0.98).length / clients;
          measured.push({
            setting: setting.name,
            clients,
            inMbps,
            outMbps,
            sourceMbps: r.inMBps * 8,
            coordinatorCores: r.coordinatorCores,
            cpuMsPerMbit: (r.coordinatorCores * 1000) / outMbps,
            projectedMbpsPerCore: outMbps / r.coordinatorCores,
            workerCores: r.workerCores,
            ffmpegCores: r.ffmpegCores,
            clientsCompleteShare: complete,
            runs: 0,
            shortRuns: 0,
          });
          o.log(`  in ${inMbps.toFixed(0)} Mbit/s, out ${outMbps.toFixed(0)} Mbit/s, coordinator ${(r.coordinatorCores * 100).toFixed(0)}% of a core`);
        }
        if (measured.length === 0) throw new Error(`relay (${setting.name}, ${clients} clients): every run was short`);
        measured.sort((a, b) => a.cpuMsPerMbit - b.cpuMsPerMbit);
        rows.push({ ...measured[measured.length >> 1]!, runs: measured.length, shortRuns }); // the upper median: with 2 runs, the costlier
      }
    } finally {
      await cluster.stop();
    }
  }
  return { clip, rows };
}
