// The one set of transcode rules that the API (profiles) and workers (specs) share.
import { expect, test } from 'bun:test';
import {
  checkProfile,
  checkSpec,
  completeProfile,
  containersFor,
  fitPreset,
  profileDefaults,
  type ProfileFields,
} from '../../common/transcode-rules';

const h264: ProfileFields = {
  videoCodec: 'h264', encoderPreference: null, width: 640, height: 360, videoBitrateKbps: 800,
  audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: null,
};

test("the README's minimal copy profile gets copy defaults and passes", () => {
  const p = completeProfile({ videoCodec: 'copy', audioCodec: 'copy' });
  expect(p).toMatchObject({ width: 0, height: 0, videoBitrateKbps: 0, gopFrames: 0, preset: null, audioBitrateKbps: 0 });
  expect(checkProfile(p)).toBeUndefined();
  // audio left out of a copy profile is copied too
  expect(completeProfile({ videoCodec: 'copy' }).audioCodec).toBe('copy');
  expect(profileDefaults('h264')).toMatchObject({ gopFrames: 50, audioCodec: 'aac', audioBitrateKbps: 128 });
});

test('copy refuses every encode-only field, naming it', () => {
  const copy = completeProfile({ videoCodec: 'copy' });
  for (const [field, value] of [['width', 640], ['height', 360], ['videoBitrateKbps', 800], ['gopFrames', 50], ['preset', 'veryfast'], ['encoderPreference', 'nvenc']] as const) {
    expect(checkProfile({ ...copy, [field]: value })?.field).toBe(field);
  }
  expect(checkProfile({ ...copy, audioBitrateKbps: 128 })?.field).toBe('audioBitrateKbps');
  expect(checkProfile({ ...copy, audioCodec: 'aac', audioBitrateKbps: 128 })).toBeUndefined();
});

test('containers: VP9/AV1 do not fit MPEG-TS (refused on videoCodec); containersFor tells where they do', () => {
  expect(containersFor('h264')).toEqual(['mpegts', 'fmp4']);
  expect(containersFor('vp9')).toEqual(['fmp4']);
  expect(containersFor('av1')).toEqual(['fmp4']);
  expect(containersFor('mp2')).toEqual(['mpegts']);
  expect(containersFor('mpeg2video')).toEqual(['mpegts']);
  expect(containersFor('none')).toEqual(['mpegts', 'fmp4']);
  const vp9 = checkProfile({ ...h264, videoCodec: 'vp9' });
  expect(vp9?.field).toBe('videoCodec');
  expect(vp9?.message).toContain('fits fmp4');
  expect(checkProfile({ ...h264, videoCodec: 'hevc' })).toBeUndefined();
  expect(checkProfile({ ...h264, videoCodec: 'mpeg2video', audioCodec: 'mp2', audioBitrateKbps: 192 })).toBeUndefined();
});

test('presets: a profile preset must be one some encoder of its codec (and preference) takes', () => {
  expect(checkProfile({ ...h264, preset: 'veryfast' })).toBeUndefined();
  expect(checkProfile({ ...h264, preset: 'p4' })).toBeUndefined(); // nvenc
  expect(checkProfile({ ...h264, preset: 'p4', encoderPreference: 'cpu' })?.field).toBe('preset');
  expect(checkProfile({ ...h264, preset: 'turbo' })?.message).toContain('ultrafast');
  expect(checkProfile({ ...h264, videoCodec: 'mpeg2video', preset: 'fast', encoderPreference: 'vaapi' })?.message).toContain('take no preset');
  expect(checkProfile({ ...h264, encoderPreference: 'hevc_nvenc' })?.field).toBe('encoderPreference');
  // the chosen encoder gets the profile's preset only if it takes it
  expect(fitPreset('libx264', 'p4')).toBe('veryfast');
  expect(fitPreset('h264_nvenc', 'p4')).toBe('p4');
  expect(fitPreset('h264_vaapi', 'veryfast')).toBe('');
});

test('sizes, audio rates and odd dimensions', () => {
  expect(checkProfile({ ...h264, width: 641 })?.field).toBe('width');
  expect(checkProfile({ ...h264, videoCodec: 'mpeg2video', width: 4096 })?.field).toBe('width');
  expect(checkProfile({ ...h264, audioCodec: 'mp2', audioBitrateKbps: 100 })?.field).toBe('audioBitrateKbps');
  expect(checkProfile({ ...h264, audioCodec: 'ac3', audioBitrateKbps: 700 })?.field).toBe('audioBitrateKbps');
  expect(checkProfile({ ...h264, audioCodec: 'none', audioBitrateKbps: 96 })?.field).toBe('audioBitrateKbps');
});

test('a patch that changes the codec takes the new codec defaults for fields it leaves out', () => {
  const toCopy = completeProfile({ videoCodec: 'copy' }, h264);
  expect(toCopy).toMatchObject({ width: 0, height: 0, gopFrames: 0, videoBitrateKbps: 0, audioCodec: 'aac', audioBitrateKbps: 96 });
  expect(checkProfile(toCopy)).toBeUndefined();
  // a field sent explicitly is kept, and then refused
  expect(checkProfile(completeProfile({ videoCodec: 'copy', gopFrames: 25 }, h264))?.field).toBe('gopFrames');
  const back = completeProfile({ videoCodec: 'h264' }, toCopy);
  expect(back.gopFrames).toBe(50);
  // audio switched to copy drops its bitrate
  expect(completeProfile({ videoCodec: 'h264', audioCodec: 'copy' }, h264).audioBitrateKbps).toBe(0);
});

test('worker specs: the same rules plus the concrete encoder', () => {
  const spec = { encoder: 'libx264', width: 640, height: 360, videoBitrateKbps: 800, audioCodec: 'aac', audioBitrateKbps: 96, gopFrames: 50, preset: 'veryfast' };
  expect(checkSpec(spec)).toBeUndefined();
  expect(checkSpec({ ...spec, encoder: 'copy', preset: '' })?.field).toBe('width');
  expect(checkSpec({ ...spec, encoder: 'h264_nvenc' })?.field).toBe('preset');
  expect(checkSpec({ ...spec, encoder: 'libsvtav1', preset: '8' }, 'av1')?.field).toBe('videoCodec');
});
