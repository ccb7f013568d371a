// Original file: proto/transcode.proto

import type { Registered as _tvarr_transcode_v1_Registered, Registered__Output as _tvarr_transcode_v1_Registered__Output } from '../../../tvarr/transcode/v1/Registered';
import type { StartJob as _tvarr_transcode_v1_StartJob, StartJob__Output as _tvarr_transcode_v1_StartJob__Output } from '../../../tvarr/transcode/v1/StartJob';
import type { CancelJob as _tvarr_transcode_v1_CancelJob, CancelJob__Output as _tvarr_transcode_v1_CancelJob__Output } from '../../../tvarr/transcode/v1/CancelJob';
import type { Drain as _tvarr_transcode_v1_Drain, Drain__Output as _tvarr_transcode_v1_Drain__Output } from '../../../tvarr/transcode/v1/Drain';
import type { Resume as _tvarr_transcode_v1_Resume, Resume__Output as _tvarr_transcode_v1_Resume__Output } from '../../../tvarr/transcode/v1/Resume';
import type { Ping as _tvarr_transcode_v1_Ping, Ping__Output as _tvarr_transcode_v1_Ping__Output } from '../../../tvarr/transcode/v1/Ping';

export interface CoordinatorCommand {
  'registered'?: (_tvarr_transcode_v1_Registered | null);
  'start_job'?: (_tvarr_transcode_v1_StartJob | null);
  'cancel_job'?: (_tvarr_transcode_v1_CancelJob | null);
  'drain'?: (_tvarr_transcode_v1_Drain | null);
  'resume'?: (_tvarr_transcode_v1_Resume | null);
  'ping'?: (_tvarr_transcode_v1_Ping | null);
  'command'?: "registered"|"start_job"|"cancel_job"|"drain"|"resume"|"ping";
}

export interface CoordinatorCommand__Output {
  'registered'?: (_tvarr_transcode_v1_Registered__Output | null);
  'start_job'?: (_tvarr_transcode_v1_StartJob__Output | null);
  'cancel_job'?: (_tvarr_transcode_v1_CancelJob__Output | null);
  'drain'?: (_tvarr_transcode_v1_Drain__Output | null);
  'resume'?: (_tvarr_transcode_v1_Resume__Output | null);
  'ping'?: (_tvarr_transcode_v1_Ping__Output | null);
  'command'?: "registered"|"start_job"|"cancel_job"|"drain"|"resume"|"ping";
}
