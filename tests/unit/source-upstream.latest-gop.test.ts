// The upstream's kept GOPs: a first start gets the current GOP; a failover attempt gets
// the GOP holding the first frame its clients have not had, even when the source has
// moved on since (a partition is found ~1.3 s later, past the next keyframe).
import { afterAll, expect, test } from 'bun:test';
import { PacketAligner, PacketKind, ProgramTracker } from '../../common/mpegts';
import { LatestGop } from '../../coordinator/streams/source-upstream';
import { pesPts } from '../../coordinator/streams/splice-point';
import { concat, makeClip, makeTempDir, randomChunks } from './mpegts-fixtures';

const temp = makeTempDir('tvarr-gop-');
afterAll(() => temp.remove());

function keyframes(bytes: Uint8Array): number[] {
  const tracker = new ProgramTracker();
  const out: number[] = [];
  for (let off = 0; off + 188 <= bytes.length; off += 188) {
    if (tracker.inspect(bytes, off) === PacketKind.Keyframe) out.push(pesPts(bytes, off));
  }
  return out;
}

test('the current GOP for a first start; the GOP holding a given frame for a failover', async () => {
  const clip = await makeClip(temp.dir, 'gop.ts', { seconds: 6, gop: 25 });
  const all = keyframes(clip);
  expect(all.length).toBeGreaterThanOrEqual(6);
  const gop = new LatestGop();
  // Whole packets in arbitrary runs, as the upstream's aligner hands them on.
  const aligner = new PacketAligner();
  for (const chunk of randomChunks(clip, 5000, 7)) for (const span of aligner.push(chunk)) gop.add(span);
  const latest = all.at(-1)!;

  // First start: PAT, PMT, then the latest keyframe.
  const current = concat(gop.snapshot());
  expect(keyframes(current)).toEqual([latest]);

  // A failover whose clients got up to half a GOP into the GOP before last: that GOP on.
  const wanted = all.at(-3)! + 12 * 3600;
  const fromThere = keyframes(concat(gop.snapshot(wanted)));
  expect(fromThere).toEqual(all.slice(-3));

  // A frame inside the current GOP: the current GOP only. Older than anything kept: all kept.
  expect(keyframes(concat(gop.snapshot(latest + 3600)))).toEqual([latest]);
  expect(keyframes(concat(gop.snapshot(all[0]! - 3600)))).toEqual(all.slice(-4));
}, 120_000);
