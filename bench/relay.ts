// Relay capacity: how many bytes per second the coordinator takes in from a worker and
// fans out to clients, and what that costs it in CPU. The copy profile with a source
// served as fast as it is read makes the relay itself the bottleneck; 1 and 4 clients
// separate the per-byte-in cost from the per-byte-out cost.
import { benchCluster, type Clip, ensureClip } from './common';
import { COPY_CASE, systemRun } from './data-path';

export interface RelayRow {
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
}

export interface RelayResult {
  clip: Clip;
  rows: RelayRow[];
}

export async function benchRelay(o: { quick: boolean; log: (s: string) => void }): Promise<RelayResult> {
  const clip = await ensureClip('src', { size: '1280x720', seconds: o.quick ? 20 : 40, kbps: 8000, gop: 50 });
  const cluster = benchCluster();
  const rows: RelayRow[] = [];
  try {
    await cluster.startCoordinator();
    await cluster.startWorker('relay');
    await cluster.createProfile(COPY_CASE.profile);
    for (const clients of [1, 4]) {
      o.log(`relay: copy profile, ${clients} client(s)`);
      const r = await systemRun(cluster, COPY_CASE, clip, clip.frames, `relay-${clients}`, clients);
      const inMbps = r.outMBps * 8;
      const outMbps = inMbps * clients;
      // Clients that received (nearly) everything the first one did: all of them kept up.
      const complete = r.clientBytes.filter((b) => b >= r.clientBytes[0]! * 0.98).length / clients;
      rows.push({
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
      });
      o.log(`  in ${inMbps.toFixed(0)} Mbit/s, out ${outMbps.toFixed(0)} Mbit/s, coordinator ${(r.coordinatorCores * 100).toFixed(0)}% of a core`);
      await Bun.sleep(1500);
    }
    return { clip, rows };
  } finally {
    await cluster.stop();
  }
}
