// Parses `ffmpeg -hide_banner -encoders` into the video encoders this product can use.
// FFmpeg lists hardware encoders that the machine cannot run, so this is only the
// candidate list; test-encode.ts decides which ones really work.
import type { EncoderFamily, EncoderKind, VideoCodec } from './capabilities';

export interface EncoderCandidate {
  name: string;
  codec: VideoCodec;
  family: EncoderFamily;
  kind: EncoderKind;
}

export const SUPPORTED_CODECS: readonly VideoCodec[] = ['h264', 'hevc', 'av1', 'vp9', 'mpeg2video'];

// Encoders that produce a supported codec but are useless for live streaming
// (libx264rgb writes RGB H.264 that most players cannot decode).
const EXCLUDED = new Set(['libx264rgb']);

// Suffix after the codec prefix, e.g. h264_nvenc -> nvenc. Anything with one of
// these suffixes runs on dedicated media hardware, which the scheduler calls "gpu".
const HARDWARE_FAMILIES: readonly EncoderFamily[] = [
  'nvenc', 'vaapi', 'qsv', 'amf', 'v4l2m2m', 'videotoolbox', 'omx', 'mediacodec', 'vulkan', 'mf',
];

// Lines look like: " V....D libx264   libx264 H.264 / AVC / ... (codec h264)".
// The codec is named explicitly only when it differs from the encoder name.
const LINE = /^\s*V[A-Z.]{5}\s+(\S+)\s+(.*)$/;

function codecOf(name: string, description: string): string {
  const m = /\(codec ([A-Za-z0-9_]+)\)\s*$/.exec(description);
  return m?.[1] ?? name;
}

export function familyOf(name: string): EncoderFamily {
  const suffix = name.includes('_') ? name.slice(name.lastIndexOf('_') + 1) : '';
  const hw = HARDWARE_FAMILIES.find((f) => f === suffix);
  return hw ?? 'software';
}

export function kindOfFamily(family: EncoderFamily): EncoderKind {
  return family === 'software' ? 'cpu' : 'gpu';
}

export function parseEncoderList(output: string): EncoderCandidate[] {
  const seen = new Set<string>();
  const out: EncoderCandidate[] = [];
  for (const line of output.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    // The legend lines (" V..... = Video") match the shape; real names never start with '='.
    if (name === '=' || EXCLUDED.has(name) || seen.has(name)) continue;
    const codec = codecOf(name, m[2] as string);
    if (!(SUPPORTED_CODECS as readonly string[]).includes(codec)) continue;
    const family = familyOf(name);
    seen.add(name);
    out.push({ name, codec: codec as VideoCodec, family, kind: kindOfFamily(family) });
  }
  return out;
}
