// A failover splice with real FFmpeg and the worker's real command line: the first
// encoder's output is cut mid-GOP (where a worker died), the replacement is fed from the
// source GOP that holds the cut and asked for a keyframe right after it, and the gate
// drops what the clients already had. The spliced stream must decode cleanly with every
// video frame exactly once: no repeat, no gap.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { DeliveredMedia, SpliceGate } from '../../coordinator/streams/splice-point';
import { buildFfmpegArgs } from '../../worker/runner/build-args';
import type { TranscodeSpec } from '../../worker/runner/transcode-spec';
import { concat, decodeErrors, makeTempDir } from '../helpers/media';
import { cutBeforeVideoPts, ffmpegBytes, keyframeIndex } from '../helpers/splice-media';
import { videoPacketTimes } from '../helpers/stream-recorder';

const SPEC: TranscodeSpec = {
  encoder: 'libx264', width: 320, height: 240, videoBitrateKbps: 400, audioCodec: 'aac', audioBitrateKbps: 64, gopFrames: 25, preset: 'ultrafast',
};
const temp = makeTempDir('splice');
let source: Uint8Array;

beforeAll(async () => {
  // The coordinator's test pattern (MPEG-2, 1 s GOP, MP2 audio), 5 s of it.
  source = await ffmpegBytes([
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=48000',
    '-t', '5', '-c:v', 'mpeg2video', '-q:v', '4', '-g', '25', '-bf', '0', '-c:a', 'mp2', '-b:a', '128k', '-f', 'mpegts', 'pipe:1',
  ]);
});
afterAll(() => temp.cleanup());

test('a replacement fed from the source GOP splices on the next frame: no repeat, no gap, clean decode', async () => {
  const { keyframes, pat, pmt } = keyframeIndex(source);
  expect(keyframes.length).toBeGreaterThanOrEqual(4);
  // The first worker encoded from the start and died 12 frames into the third GOP.
  const first = await ffmpegBytes(buildFfmpegArgs(SPEC), source);
  const diedAt = keyframes[2]!.pts + 12 * 3600;
  const deliveredBytes = cutBeforeVideoPts(first, diedAt);
  const delivered = new DeliveredMedia();
  delivered.observe(deliveredBytes);
  expect(delivered.videoPts).toBe(diedAt - 3600); // -copyts and no mux delay: source timestamps

  // The replacement: the source from the GOP that holds the next frame, keyframe asked for after the last delivered one.
  const splicePts = delivered.spliceKeyframePts();
  const gop = keyframes.filter((k) => k.pts <= splicePts).at(-1)!;
  const input = concat([pat, pmt, source.subarray(gop.off)]);
  const second = await ffmpegBytes(buildFfmpegArgs({ ...SPEC, spliceKeyframePts: splicePts }), input);
  const gate = new SpliceGate(delivered.lastPts);
  // Fed in odd-sized pieces, as gRPC messages arrive.
  const passed: Uint8Array[] = [];
  for (let off = 0; off < second.length; off += 1000) passed.push(...gate.push(second.subarray(off, off + 1000)));
  expect(gate.isOpen).toBe(true);
  expect(gate.droppedBytes).toBeGreaterThan(0); // the part of the GOP the clients had

  const spliced = concat([deliveredBytes, ...passed]);
  expect(await decodeErrors(spliced)).toBe('');
  const times = (await videoPacketTimes(spliced)).map((t) => Math.round(t * 25));
  // Every frame once, in order: 25 fps frame numbers with no repeat and no hole.
  for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(1);
  expect(times.length).toBeGreaterThan(100);
});
