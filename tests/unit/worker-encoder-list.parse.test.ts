import { expect, test } from 'bun:test';
import { parseEncoderList } from '../../worker/probe/encoder-list';
import { failureReason } from '../../worker/probe/test-encode';

const SAMPLE = `Encoders:
 V..... = Video
 A..... = Audio
 ------
 V....D a64multi             Multicolor charset for Commodore 64 (codec a64_multi)
 V....D apng                 APNG (Animated Portable Network Graphics) image
 V....D libaom-av1           libaom AV1 (codec av1)
 V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)
 V....D libx264rgb           libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 RGB (codec h264)
 V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)
 V..... h264_qsv             H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (Intel Quick Sync Video acceleration) (codec h264)
 V..... h264_v4l2m2m         V4L2 mem2mem H.264 encoder wrapper (codec h264)
 V....D hevc_vaapi           H.265/HEVC (VAAPI) (codec hevc)
 V....D hevc_amf             AMD AMF HEVC encoder (codec hevc)
 V..... h264_videotoolbox    VideoToolbox H.264 Encoder (codec h264)
 V.S... mpeg2video           MPEG-2 video
 V....D libvpx-vp9           libvpx VP9 (codec vp9)
 V....D libvpx               libvpx VP8 (codec vp8)
 A....D aac                  AAC (Advanced Audio Coding)
 S..... ass                  ASS (Advanced SubStation Alpha) subtitle
`;

test('keeps only video encoders of supported codecs, with family and kind', () => {
  expect(parseEncoderList(SAMPLE)).toEqual([
    { name: 'libaom-av1', codec: 'av1', family: 'software', kind: 'cpu' },
    { name: 'libx264', codec: 'h264', family: 'software', kind: 'cpu' },
    { name: 'h264_nvenc', codec: 'h264', family: 'nvenc', kind: 'gpu' },
    { name: 'h264_qsv', codec: 'h264', family: 'qsv', kind: 'gpu' },
    { name: 'h264_v4l2m2m', codec: 'h264', family: 'v4l2m2m', kind: 'gpu' },
    { name: 'hevc_vaapi', codec: 'hevc', family: 'vaapi', kind: 'gpu' },
    { name: 'hevc_amf', codec: 'hevc', family: 'amf', kind: 'gpu' },
    { name: 'h264_videotoolbox', codec: 'h264', family: 'videotoolbox', kind: 'gpu' },
    { name: 'mpeg2video', codec: 'mpeg2video', family: 'software', kind: 'cpu' },
    { name: 'libvpx-vp9', codec: 'vp9', family: 'software', kind: 'cpu' },
  ]);
});

test('empty or garbage input yields no encoders', () => {
  expect(parseEncoderList('')).toEqual([]);
  expect(parseEncoderList('not ffmpeg output\n\x00\x01')).toEqual([]);
});

test('failure reason prefers the encoder\'s own line and strips the context prefix', () => {
  const stderr = '[h264_nvenc @ 0x5606] Cannot load libcuda.so.1\nError initializing output stream 0:0 -- Error while opening encoder\n';
  expect(failureReason(stderr, 'h264_nvenc')).toBe('Cannot load libcuda.so.1');
  expect(failureReason('Impossible to convert between formats\nError reinitializing filters!\n', 'h264_vaapi')).toBe('Impossible to convert between formats');
  expect(failureReason('', 'x')).toBe('test encode failed with no error output');
});
