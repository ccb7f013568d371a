// Original file: proto/transcode.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CoordinatorCommand as _tvarr_transcode_v1_CoordinatorCommand, CoordinatorCommand__Output as _tvarr_transcode_v1_CoordinatorCommand__Output } from '../../../tvarr/transcode/v1/CoordinatorCommand';
import type { JobDownlink as _tvarr_transcode_v1_JobDownlink, JobDownlink__Output as _tvarr_transcode_v1_JobDownlink__Output } from '../../../tvarr/transcode/v1/JobDownlink';
import type { JobUplink as _tvarr_transcode_v1_JobUplink, JobUplink__Output as _tvarr_transcode_v1_JobUplink__Output } from '../../../tvarr/transcode/v1/JobUplink';
import type { WorkerEvent as _tvarr_transcode_v1_WorkerEvent, WorkerEvent__Output as _tvarr_transcode_v1_WorkerEvent__Output } from '../../../tvarr/transcode/v1/WorkerEvent';

export interface TranscodeCoordinatorClient extends grpc.Client {
  Control(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_CoordinatorCommand__Output>;
  Control(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_CoordinatorCommand__Output>;
  control(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_CoordinatorCommand__Output>;
  control(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_CoordinatorCommand__Output>;
  
  JobStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobDownlink__Output>;
  JobStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobDownlink__Output>;
  jobStream(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobDownlink__Output>;
  jobStream(options?: grpc.CallOptions): grpc.ClientDuplexStream<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobDownlink__Output>;
  
}

export interface TranscodeCoordinatorHandlers extends grpc.UntypedServiceImplementation {
  Control: grpc.handleBidiStreamingCall<_tvarr_transcode_v1_WorkerEvent__Output, _tvarr_transcode_v1_CoordinatorCommand>;
  
  JobStream: grpc.handleBidiStreamingCall<_tvarr_transcode_v1_JobUplink__Output, _tvarr_transcode_v1_JobDownlink>;
  
}

export interface TranscodeCoordinatorDefinition extends grpc.ServiceDefinition {
  Control: MethodDefinition<_tvarr_transcode_v1_WorkerEvent, _tvarr_transcode_v1_CoordinatorCommand, _tvarr_transcode_v1_WorkerEvent__Output, _tvarr_transcode_v1_CoordinatorCommand__Output>
  JobStream: MethodDefinition<_tvarr_transcode_v1_JobUplink, _tvarr_transcode_v1_JobDownlink, _tvarr_transcode_v1_JobUplink__Output, _tvarr_transcode_v1_JobDownlink__Output>
}
