// Source bytes -> a job attempt's stream, waiting on gRPC flow control; the subscription
// ends with the attempt, and the source's end ends the attempt's input. One pump per
// attempt: a variant's own job (streams/variant-run.ts) or a ladder job (ladder-jobs.ts).
import type { UpstreamSubscription } from '../streams/source-upstream';
import type { ActiveJob } from './active-job';

export function feedJob(job: ActiveJob, sub: UpstreamSubscription): void {
  job.onEnd(() => sub.close());
  void (async () => {
    for (;;) {
      const chunk = await sub.next();
      if (job.ended) return;
      if (chunk === null) {
        job.endInput('source ended');
        return;
      }
      if (!job.writeInput(chunk)) await job.waitDrain();
    }
  })();
}
