import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ActiveJob as _tvarr_transcode_v1_ActiveJob, ActiveJob__Output as _tvarr_transcode_v1_ActiveJob__Output } from './tvarr/transcode/v1/ActiveJob';
import type { CancelJob as _tvarr_transcode_v1_CancelJob, CancelJob__Output as _tvarr_transcode_v1_CancelJob__Output } from './tvarr/transcode/v1/CancelJob';
import type { Chunk as _tvarr_transcode_v1_Chunk, Chunk__Output as _tvarr_transcode_v1_Chunk__Output } from './tvarr/transcode/v1/Chunk';
import type { CoordinatorCommand as _tvarr_transcode_v1_CoordinatorCommand, CoordinatorCommand__Output as _tvarr_transcode_v1_CoordinatorCommand__Output } from './tvarr/transcode/v1/CoordinatorCommand';
import type { Drain as _tvarr_transcode_v1_Drain, Drain__Output as _tvarr_transcode_v1_Drain__Output } from './tvarr/transcode/v1/Drain';
import type { DrainStarted as _tvarr_transcode_v1_DrainStarted, DrainStarted__Output as _tvarr_transcode_v1_DrainStarted__Output } from './tvarr/transcode/v1/DrainStarted';
import type { Encoder as _tvarr_transcode_v1_Encoder, Encoder__Output as _tvarr_transcode_v1_Encoder__Output } from './tvarr/transcode/v1/Encoder';
import type { Gpu as _tvarr_transcode_v1_Gpu, Gpu__Output as _tvarr_transcode_v1_Gpu__Output } from './tvarr/transcode/v1/Gpu';
import type { GpuUsage as _tvarr_transcode_v1_GpuUsage, GpuUsage__Output as _tvarr_transcode_v1_GpuUsage__Output } from './tvarr/transcode/v1/GpuUsage';
import type { Heartbeat as _tvarr_transcode_v1_Heartbeat, Heartbeat__Output as _tvarr_transcode_v1_Heartbeat__Output } from './tvarr/transcode/v1/Heartbeat';
import type { InputEnded as _tvarr_transcode_v1_InputEnded, InputEnded__Output as _tvarr_transcode_v1_InputEnded__Output } from './tvarr/transcode/v1/InputEnded';
import type { JobDownlink as _tvarr_transcode_v1_JobDownlink, JobDownlink__Output as _tvarr_transcode_v1_JobDownlink__Output } from './tvarr/transcode/v1/JobDownlink';
import type { JobEnded as _tvarr_transcode_v1_JobEnded, JobEnded__Output as _tvarr_transcode_v1_JobEnded__Output } from './tvarr/transcode/v1/JobEnded';
import type { JobProgress as _tvarr_transcode_v1_JobProgress, JobProgress__Output as _tvarr_transcode_v1_JobProgress__Output } from './tvarr/transcode/v1/JobProgress';
import type { JobRejected as _tvarr_transcode_v1_JobRejected, JobRejected__Output as _tvarr_transcode_v1_JobRejected__Output } from './tvarr/transcode/v1/JobRejected';
import type { JobStreamOpen as _tvarr_transcode_v1_JobStreamOpen, JobStreamOpen__Output as _tvarr_transcode_v1_JobStreamOpen__Output } from './tvarr/transcode/v1/JobStreamOpen';
import type { JobUplink as _tvarr_transcode_v1_JobUplink, JobUplink__Output as _tvarr_transcode_v1_JobUplink__Output } from './tvarr/transcode/v1/JobUplink';
import type { Limits as _tvarr_transcode_v1_Limits, Limits__Output as _tvarr_transcode_v1_Limits__Output } from './tvarr/transcode/v1/Limits';
import type { Ping as _tvarr_transcode_v1_Ping, Ping__Output as _tvarr_transcode_v1_Ping__Output } from './tvarr/transcode/v1/Ping';
import type { Pong as _tvarr_transcode_v1_Pong, Pong__Output as _tvarr_transcode_v1_Pong__Output } from './tvarr/transcode/v1/Pong';
import type { Register as _tvarr_transcode_v1_Register, Register__Output as _tvarr_transcode_v1_Register__Output } from './tvarr/transcode/v1/Register';
import type { Registered as _tvarr_transcode_v1_Registered, Registered__Output as _tvarr_transcode_v1_Registered__Output } from './tvarr/transcode/v1/Registered';
import type { RejectedEncoder as _tvarr_transcode_v1_RejectedEncoder, RejectedEncoder__Output as _tvarr_transcode_v1_RejectedEncoder__Output } from './tvarr/transcode/v1/RejectedEncoder';
import type { Rendition as _tvarr_transcode_v1_Rendition, Rendition__Output as _tvarr_transcode_v1_Rendition__Output } from './tvarr/transcode/v1/Rendition';
import type { ResourceUsage as _tvarr_transcode_v1_ResourceUsage, ResourceUsage__Output as _tvarr_transcode_v1_ResourceUsage__Output } from './tvarr/transcode/v1/ResourceUsage';
import type { Resume as _tvarr_transcode_v1_Resume, Resume__Output as _tvarr_transcode_v1_Resume__Output } from './tvarr/transcode/v1/Resume';
import type { StartJob as _tvarr_transcode_v1_StartJob, StartJob__Output as _tvarr_transcode_v1_StartJob__Output } from './tvarr/transcode/v1/StartJob';
import type { TranscodeCoordinatorClient as _tvarr_transcode_v1_TranscodeCoordinatorClient, TranscodeCoordinatorDefinition as _tvarr_transcode_v1_TranscodeCoordinatorDefinition } from './tvarr/transcode/v1/TranscodeCoordinator';
import type { TranscodeSpec as _tvarr_transcode_v1_TranscodeSpec, TranscodeSpec__Output as _tvarr_transcode_v1_TranscodeSpec__Output } from './tvarr/transcode/v1/TranscodeSpec';
import type { WorkerEvent as _tvarr_transcode_v1_WorkerEvent, WorkerEvent__Output as _tvarr_transcode_v1_WorkerEvent__Output } from './tvarr/transcode/v1/WorkerEvent';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  tvarr: {
    transcode: {
      v1: {
        ActiveJob: MessageTypeDefinition<_tvarr_transcode_v1_ActiveJob, _tvarr_transcode_v1_ActiveJob__Output>
        CancelJob: MessageTypeDefinition<_tvarr_transcode_v1_CancelJob, _tvarr_transcode_v1_CancelJob__Output>
        Chunk: MessageTypeDefinition<_tvarr_transcode_v1_Chunk, _tvarr_transcode_v1_Chunk__Output>
        CoordinatorCommand: MessageTypeDefinition<_tvarr_transcode_v1_CoordinatorCommand, _tvarr_transcode_v1_CoordinatorCommand__Output>
        Drain: MessageTypeDefinition<_tvarr_transcode_v1_Drain, _tvarr_transcode_v1_Drain__Output>
        DrainStarted: MessageTypeDefinition<_tvarr_transcode_v1_DrainStarted, _tvarr_transcode_v1_DrainStarted__Output>
        Encoder: MessageTypeDefinition<_tvarr_transcode_v1_Encoder, _tvarr_transcode_v1_Encoder__Output>
        EncoderKind: EnumTypeDefinition
        Gpu: MessageTypeDefinition<_tvarr_transcode_v1_Gpu, _tvarr_transcode_v1_Gpu__Output>
        GpuUsage: MessageTypeDefinition<_tvarr_transcode_v1_GpuUsage, _tvarr_transcode_v1_GpuUsage__Output>
        Heartbeat: MessageTypeDefinition<_tvarr_transcode_v1_Heartbeat, _tvarr_transcode_v1_Heartbeat__Output>
        InputEnded: MessageTypeDefinition<_tvarr_transcode_v1_InputEnded, _tvarr_transcode_v1_InputEnded__Output>
        JobDownlink: MessageTypeDefinition<_tvarr_transcode_v1_JobDownlink, _tvarr_transcode_v1_JobDownlink__Output>
        JobEnded: MessageTypeDefinition<_tvarr_transcode_v1_JobEnded, _tvarr_transcode_v1_JobEnded__Output>
        JobOutcome: EnumTypeDefinition
        JobProgress: MessageTypeDefinition<_tvarr_transcode_v1_JobProgress, _tvarr_transcode_v1_JobProgress__Output>
        JobRejected: MessageTypeDefinition<_tvarr_transcode_v1_JobRejected, _tvarr_transcode_v1_JobRejected__Output>
        JobStreamOpen: MessageTypeDefinition<_tvarr_transcode_v1_JobStreamOpen, _tvarr_transcode_v1_JobStreamOpen__Output>
        JobUplink: MessageTypeDefinition<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobUplink__Output>
        Limits: MessageTypeDefinition<_tvarr_transcode_v1_Limits, _tvarr_transcode_v1_Limits__Output>
        Ping: MessageTypeDefinition<_tvarr_transcode_v1_Ping, _tvarr_transcode_v1_Ping__Output>
        Pong: MessageTypeDefinition<_tvarr_transcode_v1_Pong, _tvarr_transcode_v1_Pong__Output>
        Register: MessageTypeDefinition<_tvarr_transcode_v1_Register, _tvarr_transcode_v1_Register__Output>
        Registered: MessageTypeDefinition<_tvarr_transcode_v1_Registered, _tvarr_transcode_v1_Registered__Output>
        RejectReason: EnumTypeDefinition
        RejectedEncoder: MessageTypeDefinition<_tvarr_transcode_v1_RejectedEncoder, _tvarr_transcode_v1_RejectedEncoder__Output>
        Rendition: MessageTypeDefinition<_tvarr_transcode_v1_Rendition, _tvarr_transcode_v1_Rendition__Output>
        ResourceUsage: MessageTypeDefinition<_tvarr_transcode_v1_ResourceUsage, _tvarr_transcode_v1_ResourceUsage__Output>
        Resume: MessageTypeDefinition<_tvarr_transcode_v1_Resume, _tvarr_transcode_v1_Resume__Output>
        StartJob: MessageTypeDefinition<_tvarr_transcode_v1_StartJob, _tvarr_transcode_v1_StartJob__Output>
        TranscodeCoordinator: SubtypeConstructor<typeof grpc.Client, _tvarr_transcode_v1_TranscodeCoordinatorClient> & { service: _tvarr_transcode_v1_TranscodeCoordinatorDefinition }
        TranscodeSpec: MessageTypeDefinition<_tvarr_transcode_v1_TranscodeSpec, _tvarr_transcode_v1_TranscodeSpec__Output>
        WorkerEvent: MessageTypeDefinition<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_WorkerEvent__Output>
      }
    }
  }
}

