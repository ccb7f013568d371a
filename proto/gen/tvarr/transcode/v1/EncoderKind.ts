// Original file: proto/transcode.proto

export const EncoderKind = {
  ENCODER_KIND_UNSPECIFIED: 'ENCODER_KIND_UNSPECIFIED',
  ENCODER_KIND_CPU: 'ENCODER_KIND_CPU',
  ENCODER_KIND_GPU: 'ENCODER_KIND_GPU',
} as const;

export type EncoderKind =
  | 'ENCODER_KIND_UNSPECIFIED'
  | 0
  | 'ENCODER_KIND_CPU'
  | 1
  | 'ENCODER_KIND_GPU'
  | 2

export type EncoderKind__Output = typeof EncoderKind[keyof typeof EncoderKind]
