// Original file: proto/transcode.proto

import type { Register as _tvarr_transcode_v1_Register, Register__Output as _tvarr_transcode_v1_Register__Output } from '../../../tvarr/transcode/v1/Register';
import type { Heartbeat as _tvarr_transcode_v1_Heartbeat, Heartbeat__Output as _tvarr_transcode_v1_Heartbeat__Output } from '../../../tvarr/transcode/v1/Heartbeat';
import type { JobRejected as _tvarr_transcode_v1_JobRejected, JobRejected__Output as _tvarr_transcode_v1_JobRejected__Output } from '../../../tvarr/transcode/v1/JobRejected';
import type { JobEnded as _tvarr_transcode_v1_JobEnded, JobEnded__Output as _tvarr_transcode_v1_JobEnded__Output } from '../../../tvarr/transcode/v1/JobEnded';
import type { DrainStarted as _tvarr_transcode_v1_DrainStarted, DrainStarted__Output as _tvarr_transcode_v1_DrainStarted__Output } from '../../../tvarr/transcode/v1/DrainStarted';
import type { Pong as _tvarr_transcode_v1_Pong, Pong__Output as _tvarr_transcode_v1_Pong__Output } from '../../../tvarr/transcode/v1/Pong';

export interface WorkerEvent {
  'register'?: (_tvarr_transcode_v1_Register | null);
  'heartbeat'?: (_tvarr_transcode_v1_Heartbeat | null);
  'job_rejected'?: (_tvarr_transcode_v1_JobRejected | null);
  'job_ended'?: (_tvarr_transcode_v1_JobEnded | null);
  'drain_started'?: (_tvarr_transcode_v1_DrainStarted | null);
  'pong'?: (_tvarr_transcode_v1_Pong | null);
  'event'?: "register"|"heartbeat"|"job_rejected"|"job_ended"|"drain_started"|"pong";
}

export interface WorkerEvent__Output {
  'register'?: (_tvarr_transcode_v1_Register__Output | null);
  'heartbeat'?: (_tvarr_transcode_v1_Heartbeat__Output | null);
  'job_rejected'?: (_tvarr_transcode_v1_JobRejected__Output | null);
  'job_ended'?: (_tvarr_transcode_v1_JobEnded__Output | null);
  'drain_started'?: (_tvarr_transcode_v1_DrainStarted__Output | null);
  'pong'?: (_tvarr_transcode_v1_Pong__Output | null);
  'event'?: "register"|"heartbeat"|"job_rejected"|"job_ended"|"drain_started"|"pong";
}
