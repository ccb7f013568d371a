import { expect, test } from 'bun:test';
import { buildFfmpegArgs } from '../../worker/runner/build-args';
import { validateSpec, type TranscodeSpec } from '../../worker/runner/transcode-spec';

const base: TranscodeSpec = { encoder: 'libx264', width: 1280, height: 720, videoBitrateKbps: 3000, audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: 'veryfast' };

function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

test('software encode: stdin/stdout TS, copyts, maps, scale, bitrate, GOP, preset, progress', () => {
  const a = buildFfmpegArgs(base);
  expect(a).toContain('-copyts');
  expect(a.indexOf('-copyts')).toBeLessThan(a.indexOf('-i'));
  // live input: bounded probing so the first byte does not wait for FFmpeg's 5 s default
  expect(a.slice(a.indexOf('-probesize'), a.indexOf('-probesize') + 4)).toEqual(['-probesize', '1000000', '-analyzeduration', '500000']);
  expect(a.slice(a.indexOf('-i') - 2, a.indexOf('-i') + 2)).toEqual(['-f', 'mpegts', '-i', 'pipe:0']);
  expect(a[a.indexOf('-flush_packets') + 1]).toBe('1');
  expect(a.slice(-3)).toEqual(['-f', 'mpegts', 'pipe:1']);
  expect(a.join(' ')).toContain('-map 0:v:0 -map 0:a:0?');
  expect(a.join(' ')).toContain('-loglevel error -nostats -progress pipe:2');
  expect(after(a, '-c:v')).toBe('libx264');
  expect(after(a, '-vf')).toBe('scale=1280:720,format=yuv420p');
  expect([after(a, '-b:v'), after(a, '-maxrate'), after(a, '-bufsize')]).toEqual(['3000k', '3000k', '6000k']);
  expect(after(a, '-g')).toBe('50');
  expect(after(a, '-preset')).toBe('veryfast');
  expect([after(a, '-c:a'), after(a, '-b:a')]).toEqual(['aac', '96k']);
  // one audio format whatever the source switches to (AC-3 5.1 after AAC stereo)
  expect([after(a, '-ac'), after(a, '-ar')]).toEqual(['2', '48000']);
});

test('copy remuxes without filters; audio none drops audio', () => {
  const a = buildFfmpegArgs({ ...base, encoder: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0, audioCodec: 'none' });
  expect(after(a, '-c:v')).toBe('copy');
  expect(a).not.toContain('-vf');
  expect(a).not.toContain('-preset');
  expect(a).toContain('-an');
  expect(a).toContain('-copyts');
});

test('one side 0 keeps aspect; zero bitrate and GOP leave encoder defaults', () => {
  const a = buildFfmpegArgs({ ...base, height: 0, videoBitrateKbps: 0, gopFrames: 0, audioCodec: 'copy' });
  expect(after(a, '-vf')).toBe('scale=1280:-2,format=yuv420p');
  expect(a).not.toContain('-b:v');
  expect(a).not.toContain('-g');
  expect(after(a, '-c:a')).toBe('copy');
});

test('vaapi uploads frames to the device; encoders without -preset do not get one', () => {
  const a = buildFfmpegArgs({ ...base, encoder: 'h264_vaapi' }, { vaapiDevice: '/dev/dri/renderD129' });
  expect(after(a, '-vaapi_device')).toBe('/dev/dri/renderD129');
  expect(a.indexOf('-vaapi_device')).toBeLessThan(a.indexOf('-i'));
  expect(after(a, '-vf')).toBe('scale=1280:720,format=nv12,hwupload');
  expect(a).not.toContain('-preset');
  expect(after(buildFfmpegArgs({ ...base, encoder: 'h264_nvenc', preset: 'p1' }), '-preset')).toBe('p1');
  expect(buildFfmpegArgs({ ...base, encoder: 'mpeg2video', audioCodec: 'mp2', audioBitrateKbps: 0 })).not.toContain('-preset');
});

test('validateSpec rejects what FFmpeg could not run', () => {
  expect(validateSpec(base)).toBeUndefined();
  expect(validateSpec({ ...base, encoder: 'x; rm -rf /' })).toMatch(/invalid encoder/);
  expect(validateSpec({ ...base, audioCodec: 'flac' as 'aac' })).toMatch(/audioCodec/);
  expect(validateSpec({ ...base, width: 641 })).toMatch(/width must be even/);
  expect(validateSpec({ ...base, encoder: 'copy' })).toMatch(/copy/);
  expect(validateSpec({ ...base, preset: '--evil flag' })).toMatch(/invalid preset/);
});

test('validateSpec applies the shared rules: presets per encoder, ac3, mp2 rates, MPEG-TS codecs', () => {
  expect(validateSpec({ ...base, encoder: 'h264_nvenc', preset: 'veryfast' })).toMatch(/^preset: encoder h264_nvenc takes presets p1/);
  expect(validateSpec({ ...base, encoder: 'h264_vaapi', preset: 'veryfast' })).toMatch(/takes no preset/);
  expect(validateSpec({ ...base, encoder: 'libvpx-vp9', preset: '' })).toMatch(/^videoCodec: vp9 cannot be carried in MPEG-TS/);
  expect(validateSpec({ ...base, audioCodec: 'mp2', audioBitrateKbps: 100 })).toMatch(/^audioBitrateKbps: mp2 takes one of/);
  expect(validateSpec({ ...base, audioCodec: 'copy', audioBitrateKbps: 0 })).toBeUndefined();
  expect(validateSpec({ ...base, encoder: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0, preset: '', audioCodec: 'copy', audioBitrateKbps: 0 })).toBeUndefined();
  const ac3 = buildFfmpegArgs({ ...base, audioCodec: 'ac3', audioBitrateKbps: 0 });
  expect([after(ac3, '-c:a'), after(ac3, '-b:a')]).toEqual(['ac3', '192k']);
});

test('keyframes following the source (hot standby): forced at source keyframes, no scene cuts, no splice keyframe', () => {
  const a = buildFfmpegArgs({ ...base, keyframesFollowSource: true, spliceKeyframePts: 900_000 });
  expect(after(a, '-force_key_frames')).toBe('source');
  expect(a.filter((x) => x === '-force_key_frames')).toHaveLength(1); // the splice time is not added
  expect(after(a, '-g')).toBe('500'); // only a backstop for a source without keyframes
  expect(after(a, '-sc_threshold')).toBe('0');
  const nvenc = buildFfmpegArgs({ ...base, encoder: 'h264_nvenc', preset: 'p1', keyframesFollowSource: true });
  expect(after(nvenc, '-forced-idr')).toBe('1');
  expect(after(nvenc, '-no-scenecut')).toBe('1');
  expect(after(buildFfmpegArgs({ ...base, encoder: 'h264_qsv', preset: '', keyframesFollowSource: true }), '-forced_idr')).toBe('1');
  // copy keeps the source's keyframes anyway
  expect(buildFfmpegArgs({ ...base, encoder: 'copy', width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0, preset: '', keyframesFollowSource: true })).not.toContain('-force_key_frames');
});
