// One Control call from open to close: register, wait for `registered`, then
// heartbeat at the interval the coordinator asked for and hand commands to the agent.
// The agent runs a new session (with backoff) each time one ends.
//
// States: connecting -> registered -> closed, or connecting -> closed. Commands other
// than `registered` are only accepted once registered.
import * as grpc from '@grpc/grpc-js';
import type { CoordinatorCommand__Output } from '../../proto/gen/tvarr/transcode/v1/CoordinatorCommand';
import type { WorkerEvent } from '../../proto/gen/tvarr/transcode/v1/WorkerEvent';
import { DEFAULT_LIVENESS } from '../../common/liveness';
import type { Logger } from '../../common/log';
import type { IncomingCommand, OutgoingEvent, Registration } from './domain';
import { statusName, type CoordinatorClient } from './grpc-connection';
import { commandFromProto, eventToProto } from './proto-convert';

type ControlCall = grpc.ClientDuplexStream<WorkerEvent, CoordinatorCommand__Output>;
type SessionState = 'connecting' | 'registered' | 'closed';

export interface SessionHandlers {
  registration(): Registration;
  onRegistered(cmd: Extract<IncomingCommand, { type: 'registered' }>): void;
  onCommand(cmd: IncomingCommand): void;
  heartbeat(): Promise<Extract<OutgoingEvent, { type: 'heartbeat' }>>;
}

export interface SessionTimeouts {
  /** No `registered` reply this long after opening: give up (default 15 s: a busy coordinator). */
  registerMs?: number;
  /**
   * Still no connection this long after opening (an address that drops SYNs): give up, so
   * the agent can try another coordinator. Unset: wait as grpc-js does.
   */
  connectMs?: number;
}

export interface SessionResult {
  registered: boolean;
  /** Registered and still there when the first heartbeat went out: the coordinator kept us. */
  settled: boolean;
  reason: string;
}

// Used only when the coordinator sends no interval (an older coordinator).
const DEFAULT_HEARTBEAT_MS = DEFAULT_LIVENESS.heartbeatIntervalMs;

export class ControlSession {
  private state: SessionState = 'connecting';
  private call: ControlCall | undefined;
  private heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatIntervalMs = DEFAULT_HEARTBEAT_MS;
  private heartbeatChain = 0;
  private lastHeartbeatAt = 0;
  private everRegistered = false;
  private settled = false;

  constructor(
    private readonly client: CoordinatorClient,
    private readonly metadata: grpc.Metadata,
    private readonly handlers: SessionHandlers,
    private readonly logger: Logger,
    private readonly timeouts: SessionTimeouts = {},
  ) {}

  get isRegistered(): boolean {
    return this.state === 'registered';
  }

  /** Runs until the call ends; says whether registration succeeded and why it ended. */
  run(): Promise<SessionResult> {
    return new Promise((resolve) => {
      const call = this.client.Control(this.metadata);
      this.call = call;
      let ended = false;
      const finish = (reason: string) => {
        if (ended) return;
        ended = true;
        this.state = 'closed';
        clearTimeout(this.heartbeatTimer);
        clearTimeout(registerTimer);
        clearTimeout(connectTimer);
        resolve({ registered: this.everRegistered, settled: this.settled, reason });
      };
      // Our own reason first: the cancel's error would only say "Cancelled on client".
      const abandon = (reason: string) => {
        finish(reason);
        call.cancel();
      };
      const registerMs = this.timeouts.registerMs ?? 15_000;
      const registerTimer = setTimeout(() => {
        if (this.state !== 'connecting') return;
        this.logger.warn('no registered reply; reconnecting', { timeoutMs: registerMs });
        abandon(`no registered reply within ${registerMs} ms`);
      }, registerMs);
      const connectMs = this.timeouts.connectMs;
      const connectTimer = connectMs === undefined ? undefined : setTimeout(() => {
        const connected = this.client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
        if (this.state === 'connecting' && !connected) abandon(`no connection within ${connectMs} ms`);
      }, connectMs);

      call.on('data', (msg: CoordinatorCommand__Output) => this.receive(commandFromProto(msg)));
      call.on('error', (err: grpc.ServiceError) => finish(`${statusName(err.code)}: ${err.details ?? err.message}`));
      call.on('end', () => {
        finish('coordinator closed the control stream');
        call.end();
      });
      call.on('close', () => finish('control stream closed'));

      call.write(eventToProto({ type: 'register', registration: this.handlers.registration() }));
    });
  }

  /**
   * Writes an event if the session is registered; resolves true once it has been
   * handed to the transport, false if it could not be sent.
   */
  send(event: OutgoingEvent): Promise<boolean> {
    const call = this.call;
    if (this.state !== 'registered' || !call) return Promise.resolve(false);
    return new Promise((resolve) => {
      try {
        call.write(eventToProto(event), (err: unknown) => resolve(!err));
      } catch {
        resolve(false);
      }
    });
  }

  /** Half-closes our side (clean shutdown) or cancels the call. */
  close(graceful: boolean): void {
    clearTimeout(this.heartbeatTimer);
    if (!this.call || this.state === 'closed') return;
    if (graceful) this.call.end();
    else this.call.cancel();
  }

  private receive(cmd: IncomingCommand): void {
    if (cmd.type === 'registered') {
      if (this.state !== 'connecting') return;
      this.state = 'registered';
      this.everRegistered = true;
      this.handlers.onRegistered(cmd);
      this.scheduleHeartbeat(cmd.heartbeatIntervalMs > 0 ? cmd.heartbeatIntervalMs : DEFAULT_HEARTBEAT_MS);
      return;
    }
    if (this.state !== 'registered') {
      this.logger.warn('command before registered ignored', { command: cmd.type });
      return;
    }
    // Answered here, at once: the coordinator times the round trip (link RTT).
    if (cmd.type === 'ping') {
      void this.send({ type: 'pong', nonce: cmd.nonce });
      // A new interval (the coordinator's fleet grew or shrank): the next heartbeat is due at
      // most that long after the previous one.
      if (cmd.heartbeatIntervalMs > 0 && cmd.heartbeatIntervalMs !== this.heartbeatIntervalMs) {
        clearTimeout(this.heartbeatTimer);
        const due = Math.max(0, cmd.heartbeatIntervalMs - (performance.now() - this.lastHeartbeatAt));
        this.scheduleHeartbeat(cmd.heartbeatIntervalMs, due);
      }
      return;
    }
    this.handlers.onCommand(cmd);
  }

  // Chained timeouts rather than setInterval so a slow sample (nvidia-smi) never overlaps
  // the next; each waits only what is left of its interval, so the slow sample does not
  // stretch the gap the coordinator sees (its loss deadline is a few intervals).
  private scheduleHeartbeat(intervalMs: number, delayMs = intervalMs): void {
    this.heartbeatIntervalMs = intervalMs;
    // One chain at a time: a Ping that changes the interval while a heartbeat is being
    // sampled starts a new chain, and this one must not continue after its await.
    const chain = ++this.heartbeatChain;
    this.heartbeatTimer = setTimeout(async () => {
      if (this.state !== 'registered' || chain !== this.heartbeatChain) return;
      const started = performance.now();
      this.lastHeartbeatAt = started;
      try {
        if (await this.send(await this.handlers.heartbeat())) this.settled = true;
      } catch (err) {
        this.logger.warn('heartbeat failed', { err });
      }
      const spent = performance.now() - started;
      if (this.state === 'registered' && chain === this.heartbeatChain) this.scheduleHeartbeat(intervalMs, Math.max(0, intervalMs - spent));
    }, delayMs);
  }
}
