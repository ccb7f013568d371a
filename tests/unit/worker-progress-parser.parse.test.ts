import { expect, test } from 'bun:test';
import { ProgressParser, type FfmpegProgress } from '../../worker/runner/progress-parser';

const BLOCK = `frame=50
fps=25.00
stream_0_0_q=-1.0
bitrate= 512.3kbits/s
total_size=125584
out_time_us=2000000
out_time_ms=2000000
out_time=00:00:02.000000
dup_frames=0
drop_frames=0
speed=1.01x
progress=continue
`;

test('parses a progress block, even when split across chunks', () => {
  const seen: FfmpegProgress[] = [];
  const p = new ProgressParser((x) => seen.push(x));
  p.push(BLOCK.slice(0, 37));
  expect(seen).toHaveLength(0);
  p.push(BLOCK.slice(37));
  expect(seen).toEqual([{ frame: 50, fps: 25, bitrateKbps: 512.3, totalSize: 125584, outTimeUs: 2000000, speed: 1.01, done: false }]);
  expect(p.errorMessage).toBe('');
});

test('N/A values become 0 and progress=end marks done', () => {
  const seen: FfmpegProgress[] = [];
  const p = new ProgressParser((x) => seen.push(x));
  p.push('frame=0\nfps=0.00\nbitrate=N/A\ntotal_size=N/A\nout_time_us=N/A\nspeed=N/A\nprogress=end\n');
  expect(seen).toEqual([{ frame: 0, fps: 0, bitrateKbps: 0, totalSize: 0, outTimeUs: 0, speed: 0, done: true }]);
});

test('keeps the last few error lines as the failure message', () => {
  const p = new ProgressParser(() => {}, 2);
  p.push('[mpegts @ 0x1] first\nframe=1\nprogress=continue\nsecond\r\nthird');
  p.end();
  expect(p.errorMessage).toBe('second | third');
});
