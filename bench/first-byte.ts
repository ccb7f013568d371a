// Time to first media byte of a new variant: on a new source connection, and on a source
// that is already connected for another variant (the common IPTV case). Prints JSON.
// Run: bun bench/first-byte.ts
import { TestCluster, TINY_H264_PROFILE } from '../tests/helpers/cluster';
const cluster = new TestCluster();
await cluster.startCoordinator();
await cluster.startWorker('w', { TVARR_MAX_JOBS: '4', TVARR_MAX_CPU_JOBS: '4' });
// the test pattern: 320x240, 25 fps, 1 s GOP
await cluster.createSource('pattern', 'testpattern:?size=320x240&rate=25');
async function ttfb(profile: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${cluster.coordinator.httpUrl}/stream/pattern/${profile}`);
  if (res.status !== 200) throw new Error(await res.text());
  const reader = res.body!.getReader();
  let seen = 0;
  for (;;) {
    const { value } = await reader.read();
    seen += value!.byteLength;
    if (seen > 188) break; // past the leading null packet
  }
  const ms = performance.now() - t0;
  void reader.cancel();
  return ms;
}
for (let i = 0; i < 4; i++) await cluster.createProfile({ ...TINY_H264_PROFILE, id: `p${i}` });
const first = await ttfb('p0'); // new source connection + new variant
const warm: number[] = [];
for (const p of ['p1', 'p2', 'p3']) warm.push(await ttfb(p)); // source already connected
console.log(JSON.stringify({ firstMs: Math.round(first), warmSourceMs: warm.map(Math.round) }));
await cluster.stop();
process.exit(0);
