// Reconnect delay: exponential from base to max, with "equal jitter" (half fixed,
// half random) so a fleet of workers does not reconnect in lockstep after a
// coordinator restart, while each one still waits at least half the step. `attempt`
// counts full rounds over the coordinator list (worker-agent.ts), not addresses: moving
// from a lost coordinator to the next one costs no wait.
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(step / 2 + (random() * step) / 2);
}
