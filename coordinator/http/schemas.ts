// TypeBox schemas for the admin API: request validation and the OpenAPI document come
// from the same definitions.
import { t } from 'elysia';
import { AUDIO_CODECS, VIDEO_CODECS } from '../../common/transcode-rules';

const ID_PATTERN = '^[a-z0-9][a-z0-9_-]{0,63}$';
const Id = t.String({ pattern: ID_PATTERN, description: 'lower-case slug, 1-64 characters' });
// Display names end up in line-based formats (the M3U playlist, logs): no control
// characters (newlines, tabs, NUL, C1, line/paragraph separators), one name for every resource.
const Name = t.String({
  minLength: 1,
  maxLength: 200,
  pattern: '^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029]+$',
  description: '1-200 characters, no control characters (no newlines)',
});

export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: 'machine-readable error code' }),
      message: t.String(),
      field: t.Optional(t.String({ description: 'the invalid field, for validation errors' })),
    }),
  },
  { description: 'Every error response has this shape' },
);

export const IdParams = t.Object({ id: t.String({ maxLength: 128 }) });

const SourceUrl = t.String({
  minLength: 1,
  maxLength: 2048,
  pattern: '^(https?://|testpattern:|rtsp://|rtmp://|udp://|srt://|file:)',
  description: 'http(s) URL of live MPEG-TS, testpattern:, or another FFmpeg input URL',
});

export const SourceBody = t.Object(
  {
    id: Id,
    name: Name,
    url: SourceUrl,
    backupUrls: t.Optional(
      t.Array(SourceUrl, {
        maxItems: 8,
        description: 'tried in order when the live URL fails (connect or HTTP error, no data or no video for a while); the primary is taken back once healthy again',
      }),
    ),
  },
  { additionalProperties: false },
);
export const SourcePatch = t.Partial(t.Omit(SourceBody, ['id']), { additionalProperties: false, minProperties: 1 });

const UrlStatus = t.Object({
  url: t.String({ description: 'masked: credentials and query values hidden' }),
  role: t.Union([t.Literal('primary'), t.Literal('backup')]),
  live: t.Boolean({ description: 'the upstream connection uses this URL now' }),
  lastError: t.Union([t.String(), t.Null()]),
  lastErrorAt: t.Union([t.Number(), t.Null()]),
  lastOkAt: t.Union([t.Number(), t.Null()]),
});

export const SourceStatus = t.Union([
  t.Object({
    connected: t.Boolean({ description: 'MPEG-TS is arriving now (false during an outage)' }),
    liveUrl: t.Integer({ description: 'index into urls of the URL in use: 0 the primary, 1.. the backups' }),
    urls: t.Array(UrlStatus),
    switches: t.Integer({ description: 'moves between URLs since the upstream connected' }),
    outageSince: t.Union([t.Number(), t.Null()]),
    timeline: t.Object({
      breaks: t.Integer({ description: 'timestamp jumps hidden by restamping' }),
      wraps: t.Integer({ description: '2^33 timestamp wraps passed through' }),
      continuityErrors: t.Integer(),
    }),
    events: t.Record(t.String(), t.Integer(), { description: 'source events by kind (program-changed, timeline-break, outage, reconnected, switched, ...)' }),
    lastEvent: t.Union([t.Object({ kind: t.String(), detail: t.String(), at: t.Number() }), t.Null()]),
    unsupported: t.Union([t.String(), t.Null()]),
  }),
  t.Null(),
]);

export const Source = t.Object({
  id: t.String(),
  name: t.String(),
  url: t.String(),
  backupUrls: t.Array(t.String()),
  createdAt: t.Number(),
  status: t.Optional(SourceStatus),
});

// The codec lists and every cross-field rule come from common/transcode-rules.ts, which
// workers apply too: the route refuses (422 naming the field) what no worker would run,
// e.g. width on a copy profile, a preset no encoder of the codec takes, VP9/AV1 in MPEG-TS.
const VideoCodec = t.Union(VIDEO_CODECS.map((c) => t.Literal(c)), {
  description: 'copy remuxes the source video (no size, bitrate, GOP, preset or encoderPreference); vp9 and av1 are refused: every job outputs MPEG-TS',
});
const AudioCodec = t.Union(AUDIO_CODECS.map((c) => t.Literal(c)), {
  description: 'default: copy when videoCodec is copy, else aac; audioBitrateKbps applies to aac, mp2, ac3 only',
});

export const ProfileBody = t.Object(
  {
    id: Id,
    name: Name,
    videoCodec: VideoCodec,
    encoderPreference: t.Optional(
      t.Union([t.Null(), t.String({ pattern: '^[a-z0-9_]{1,64}$', description: 'encoder (hevc_vaapi), family (nvenc) or kind (gpu, cpu)' })]),
    ),
    width: t.Optional(t.Integer({ minimum: 0, maximum: 7680 })),
    height: t.Optional(t.Integer({ minimum: 0, maximum: 4320 })),
    videoBitrateKbps: t.Optional(t.Integer({ minimum: 0, maximum: 200_000 })),
    audioCodec: t.Optional(AudioCodec),
    audioBitrateKbps: t.Optional(t.Integer({ minimum: 0, maximum: 1024, description: 'default by codec: aac 128, mp2 192, ac3 192, copy/none 0' })),
    gopFrames: t.Optional(t.Integer({ minimum: 0, maximum: 1000, description: 'keyframe interval in frames; default 50 when encoding, 0 for copy' })),
    preset: t.Optional(t.Union([t.Null(), t.String({ pattern: '^[a-z0-9]{1,32}$' })])),
    hotStandby: t.Optional(t.Boolean()),
  },
  { additionalProperties: false },
);
export const ProfilePatch = t.Partial(t.Omit(ProfileBody, ['id']), { additionalProperties: false, minProperties: 1 });

export const Profile = t.Object({
  id: t.String(),
  name: t.String(),
  videoCodec: t.String(),
  encoderPreference: t.Union([t.String(), t.Null()]),
  width: t.Integer(),
  height: t.Integer(),
  videoBitrateKbps: t.Integer(),
  audioCodec: t.String(),
  audioBitrateKbps: t.Integer(),
  gopFrames: t.Integer(),
  preset: t.Union([t.String(), t.Null()]),
  hotStandby: t.Boolean(),
  createdAt: t.Number(),
});

// Ladders: the rendition rules (known, encoded, HLS-decodable profiles with one audio
// format and distinct sizes) are checked in coordinator/catalog/ladder-checks.ts.
const Renditions = t.Array(t.String({ minLength: 1, maxLength: 128 }), {
  minItems: 1,
  maxItems: 8,
  description: 'profile ids, top (largest) first: each an encoded h264/hevc profile, all with the same audio codec, no two of one size',
});

export const LadderBody = t.Object(
  {
    id: t.String({ pattern: ID_PATTERN, description: 'lower-case slug, 1-64 characters; not a profile id (both are served at /stream/{source}/{id})' }),
    name: Name,
    renditions: Renditions,
  },
  { additionalProperties: false },
);
export const LadderPatch = t.Partial(t.Omit(LadderBody, ['id']), { additionalProperties: false, minProperties: 1 });

export const Ladder = t.Object({
  id: t.String(),
  name: t.String(),
  renditions: t.Array(t.String()),
  createdAt: t.Number(),
});

export const Worker = t.Object({
  id: t.String(),
  name: t.String(),
  version: t.String(),
  hostname: t.String(),
  address: t.String(),
  ffmpegVersion: t.String(),
  state: t.String(),
  connected: t.Boolean(),
  maxJobs: t.Integer(),
  maxGpuJobs: t.Integer(),
  maxCpuJobs: t.Integer(),
  speedFps: t.Number(),
  encoders: t.Array(t.Object({ name: t.String(), codec: t.String(), kind: t.String(), family: t.String() })),
  rejectedEncoders: t.Array(t.Object({ name: t.String(), codec: t.String(), reason: t.String() })),
  gpus: t.Array(t.Any()),
  usage: t.Any(),
  activeJobs: t.Integer(),
  registeredAt: t.Number(),
  lastSeenAt: t.Number(),
  quarantinedUntil: t.Union([t.Number(), t.Null()]),
  quarantineReason: t.Union([t.String(), t.Null()]),
  coordinatorId: t.Union([t.String(), t.Null()], { description: 'cluster mode: the coordinator whose Control stream holds the worker (or held it last); null on SQLite' }),
  link: t.Union(
    [
      t.Object({
        rttMs: t.Union([t.Number(), t.Null()], { description: 'round-trip time of the control stream (min of the last Ping/Pong samples), ms' }),
        lastRttMs: t.Union([t.Number(), t.Null()]),
        samples: t.Integer(),
        jobs: t.Array(
          t.Object({
            jobId: t.String(),
            attempt: t.Integer(),
            lanes: t.Integer({ description: 'job stream calls (lanes) the attempt uses' }),
            inKbps: t.Number({ description: 'source bytes to the worker over the last ~5 s' }),
            outKbps: t.Number({ description: 'output bytes from the worker over the last ~5 s' }),
          }),
        ),
      }),
      t.Null(),
    ],
    { description: 'the link as this coordinator measures it; null when not connected here' },
  ),
});

export const Job = t.Object({
  id: t.String(),
  runId: t.String(),
  sourceId: t.String(),
  profileId: t.String({ description: 'the profile, or for a ladder job (slots > 1) the ladder whose renditions it makes' }),
  workerId: t.Union([t.String(), t.Null()]),
  encoder: t.Union([t.String(), t.Null()]),
  kind: t.Union([t.String(), t.Null()]),
  slots: t.Integer({ description: "worker slots it holds: 1, or one per rendition of a ladder job (README 'Ladders')" }),
  role: t.String(),
  state: t.String(),
  attempt: t.Integer(),
  createdAt: t.Number(),
  startedAt: t.Union([t.Number(), t.Null()]),
  endedAt: t.Union([t.Number(), t.Null()]),
  failureReason: t.Union([t.String(), t.Null()]),
  stats: t.Any(),
  coordinatorId: t.Union([t.String(), t.Null()], { description: 'the coordinator that claimed and relays it (GET /api/cluster lists them)' }),
});

export const WorkerQuery = t.Object({
  state: t.Optional(t.Union(['online', 'draining', 'offline'].map((s) => t.Literal(s)), { description: 'only workers in this state' })),
  encoder: t.Optional(t.String({ minLength: 1, maxLength: 64, description: 'only workers with this proven encoder (e.g. libx264, h264_nvenc)' })),
  name: t.Optional(t.String({ minLength: 1, maxLength: 128, description: 'only workers whose name or id contains this text (case-insensitive)' })),
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000, description: 'page size (default 1000); the total is in X-Total-Count' })),
  offset: t.Optional(t.Numeric({ minimum: 0, maximum: 1_000_000, description: 'workers to skip, in name then id order' })),
});

export const JobQuery = t.Object({
  state: t.Optional(t.Union(['pending', 'running', 'failed', 'completed', 'cancelled'].map((s) => t.Literal(s)))),
  workerId: t.Optional(t.String({ maxLength: 128 })),
  limit: t.Optional(t.Numeric({ minimum: 1, maximum: 1000 })),
});
