// What a ladder may list: every rule answers the first violation with the field as the
// API names it (renditions[i]) and a message that says which profile and why.
import { expect, test } from 'bun:test';
import { checkLadderRenditions, MAX_RENDITIONS, type LadderProfile } from '../../coordinator/catalog/ladder-checks';
import { completeProfile } from '../../common/transcode-rules';

const profile = (id: string, over: Partial<LadderProfile> = {}): LadderProfile => ({
  ...completeProfile({ videoCodec: 'h264', width: 640, height: 360, videoBitrateKbps: 800, ...over }),
  ...over,
  id,
});

const catalog = (...rows: LadderProfile[]) => new Map(rows.map((p) => [p.id, p] as const));

const base = catalog(
  profile('r360', { width: 640, height: 360 }),
  profile('r270', { width: 480, height: 270, videoBitrateKbps: 400 }),
  profile('r180', { width: 320, height: 180, videoBitrateKbps: 200 }),
);

test('a ladder of encoded h264 profiles with one audio format and distinct sizes passes', () => {
  expect(checkLadderRenditions(['r360', 'r270', 'r180'], base)).toBeUndefined();
  expect(checkLadderRenditions(['r180'], base)).toBeUndefined();
  // HEVC beside H.264 is allowed: players pick the renditions they decode (CODECS says which).
  const mixed = catalog(...base.values(), profile('h720', { videoCodec: 'hevc', width: 1280, height: 720 }));
  expect(checkLadderRenditions(['h720', 'r360'], mixed)).toBeUndefined();
  // Audio bitrates may differ: the codec, channels and sample rate stay the same.
  const audio = catalog(profile('a', { width: 640, height: 360, audioBitrateKbps: 128 }), profile('b', { width: 320, height: 180, audioBitrateKbps: 64 }));
  expect(checkLadderRenditions(['a', 'b'], audio)).toBeUndefined();
});

test('count: 1..MAX_RENDITIONS renditions, named on `renditions`', () => {
  expect(checkLadderRenditions([], base)).toEqual({ field: 'renditions', message: `a ladder has 1..${MAX_RENDITIONS} renditions, got 0` });
  const many = Array.from({ length: MAX_RENDITIONS + 1 }, (_, i) => profile(`p${i}`, { width: 64 + 2 * i, height: 64 }));
  expect(checkLadderRenditions(many.map((p) => p.id), catalog(...many))?.field).toBe('renditions');
  expect(checkLadderRenditions(many.slice(0, MAX_RENDITIONS).map((p) => p.id), catalog(...many))).toBeUndefined();
});

test('an unknown profile is named with its position', () => {
  expect(checkLadderRenditions(['r360', 'x', 'r180'], base)).toEqual({ field: 'renditions[1]', message: "unknown profile 'x'" });
});

test('the same profile twice names the second place and the first', () => {
  const v = checkLadderRenditions(['r360', 'r180', 'r360'], base);
  expect(v?.field).toBe('renditions[2]');
  expect(v?.message).toContain("'r360' is listed twice (also renditions[0])");
});

test('copy video or copy audio cannot form a ladder', () => {
  const copy = catalog(...base.values(), { ...completeProfile({ videoCodec: 'copy' }), id: 'remux' });
  const v = checkLadderRenditions(['r360', 'remux'], copy);
  expect(v?.field).toBe('renditions[1]');
  expect(v?.message).toContain('copies the source video');
  const copyAudio = catalog(...base.values(), profile('ca', { width: 256, height: 144, audioCodec: 'copy', audioBitrateKbps: 0 }));
  const a = checkLadderRenditions(['ca', 'r360'], copyAudio);
  expect(a?.field).toBe('renditions[0]');
  expect(a?.message).toContain('copies the source audio');
});

test('video HLS players do not decode (mpeg2video) is refused, naming the codec', () => {
  const m2 = catalog(...base.values(), profile('m2', { videoCodec: 'mpeg2video', width: 720, height: 576 }));
  const v = checkLadderRenditions(['m2', 'r360'], m2);
  expect(v).toEqual({ field: 'renditions[0]', message: "profile 'm2' encodes mpeg2video, which adaptive players do not decode; a ladder takes h264 or hevc" });
});

test('mixed audio (aac and ac3, or audio and none) names the rendition and the one it differs from', () => {
  const ac3 = catalog(...base.values(), profile('dolby', { width: 256, height: 144, audioCodec: 'ac3', audioBitrateKbps: 192 }));
  const v = checkLadderRenditions(['r360', 'r180', 'dolby'], ac3);
  expect(v?.field).toBe('renditions[2]');
  expect(v?.message).toContain("has audio ac3, renditions[0] ('r360') has aac");
  const silent = catalog(...base.values(), profile('mute', { width: 256, height: 144, audioCodec: 'none', audioBitrateKbps: 0 }));
  expect(checkLadderRenditions(['mute', 'r360'], silent)?.field).toBe('renditions[1]');
  // Every rendition silent is one audio format too.
  const allSilent = catalog(profile('m1', { width: 640, height: 360, audioCodec: 'none', audioBitrateKbps: 0 }), profile('m2', { width: 320, height: 180, audioCodec: 'none', audioBitrateKbps: 0 }));
  expect(checkLadderRenditions(['m1', 'm2'], allSilent)).toBeUndefined();
});

test('two renditions of one size are refused, naming both', () => {
  const dup = catalog(...base.values(), profile('r360b', { width: 640, height: 360, videoBitrateKbps: 1500 }));
  const v = checkLadderRenditions(['r360b', 'r270', 'r360'], dup);
  expect(v?.field).toBe('renditions[2]');
  expect(v?.message).toContain("same size 640x360 as renditions[0] ('r360b')");
  // Two "source size" profiles (0x0) are the same size too.
  const src = catalog(profile('s1', { width: 0, height: 0 }), profile('s2', { width: 0, height: 0, videoBitrateKbps: 300 }));
  expect(checkLadderRenditions(['s1', 's2'], src)?.message).toContain('the source size');
});
