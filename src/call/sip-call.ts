// One incoming call as its flow sees it (a CallPort): the caller's SIP dialog and
// its media leg in the call's own room. Created by CallManager once the rule chain
// chose a flow; ends exactly once, whoever ends it, with one 'ended' event.
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import type { Logger } from '../util/logger.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import { B2bBridge } from './b2b-bridge.ts';
import type { CallDeps } from './call-deps.ts';
import { CallRecording } from './call-recording.ts';
import { answerReoffers, destroyDialog } from './dialog-util.ts';
import { parseNameAddr } from './name-addr.ts';
import { MEDIA_TIMEOUT_REASON, RECORDING_FAILED_REASON, WORKER_DIED_REASON } from './reasons.ts';
import { describeSpec, toLibrarySpec } from './play-spec.ts';
import type {
  BridgeOptions,
  BridgeOutcome,
  CallEvents,
  CallPort,
  ConferenceJoinOptions,
  NameAddr,
  PlayHandle,
  PlaySpec,
  RecordingHandle,
  RecordingOptions,
  BridgeTarget,
} from './ports.ts';

export const CALLER_LEG = 'caller';

export class SipCall extends TypedEmitter<CallEvents> implements CallPort {
  readonly callId: string;
  readonly originalTo: NameAddr;
  readonly from: NameAddr;
  readonly requestUri: string;
  /** Set by the call manager from the rule that took the call. */
  bridgeTarget: BridgeTarget = 'to';
  private uas: Srf.Dialog | null = null;
  private endedFlag = false;
  private recording: CallRecording | null = null;
  private bridgeInProgress: B2bBridge | null = null;
  private earlySent = false;
  /** The Reason header value every BYE of this call carries, when it ended for a cause (RFC 3326). */
  private endReason: string | null = null;

  private constructor(
    readonly deps: CallDeps,
    readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    readonly room: MediaRoom,
    readonly leg: MediaLeg,
    private readonly answerSdp: string,
    readonly log: Logger,
  ) {
    super(log);
    this.callId = req.get('Call-ID') ?? room.id;
    this.originalTo = parseNameAddr(req.get('To'));
    this.from = parseNameAddr(req.get('From'));
    this.requestUri = req.uri;
    leg.on('dtmf', (e) => this.safeEmit('dtmf', e.digit, e.durationMs));
    room.on('close', (reason) => {
      if (reason === 'worker-died') this.endForCause(WORKER_DIED_REASON, 'media worker died');
    });
    leg.on('mediatimeout', (s) => this.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP from the caller for ${s} s`));
    req.on('cancel', () => this.end('caller canceled'));
  }

  /**
   * Creates the call's room and the caller's media leg from the INVITE's offer.
   * An offer with no usable codec is answered 488 and rejects.
   */
  static async create(deps: CallDeps, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger): Promise<SipCall> {
    const callId = req.get('Call-ID') ?? 'unknown';
    const room = await deps.media.createRoom(`call-${callId}`);
    try {
      const { leg, answer } = await room.createLeg(req.body ?? '', { id: CALLER_LEG });
      return new SipCall(deps, req, res, room, leg, answer, log);
    } catch (err) {
      room.close();
      if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: `399 parley "${err.message.slice(0, 80)}"` } });
      else res.send(500);
      throw err;
    }
  }

  get answered(): boolean {
    return this.uas !== null;
  }

  /** The caller hears what Parley plays: answered, or in early media (a 183 with SDP went out). */
  get hearsMedia(): boolean {
    return this.uas !== null || this.earlySent;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  /** The recording in progress, for the bridge to add the callee to it. */
  get activeRecording(): CallRecording | null {
    return this.recording;
  }

  get dialog(): Srf.Dialog | null {
    return this.uas;
  }

  async answer(options: { early?: boolean } = {}): Promise<void> {
    if (this.uas || this.endedFlag) return;
    if (options.early) {
      if (!this.earlySent) {
        this.earlySent = true;
        this.res.send(183, { body: this.answerSdp });
        this.log.info('early media (183)');
      }
      return;
    }
    const uas = await this.deps.srf.createUAS(this.req, this.res, { localSdp: this.answerSdp });
    if (this.endedFlag) {
      destroyDialog(uas, this.log);
      return;
    }
    this.uas = uas;
    this.leg.watchMedia();
    uas.on('destroy', () => this.end('caller hung up'));
    uas.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => this.onInfo(req, res));
    answerReoffers(uas, this.leg, this.log);
    this.log.info('answered');
  }

  hangup(status?: number, reason?: string): void {
    if (this.endedFlag) return;
    if (this.uas) destroyDialog(this.uas, this.log);
    else if (!this.res.finalResponseSent) {
      if (reason) this.res.send(status ?? 480, reason, {});
      else this.res.send(status ?? 480);
    }
    this.end(this.uas ? 'hung up by Parley' : `rejected ${status ?? 480}`);
  }

  play(spec: PlaySpec, options: { target: 'caller' | 'room'; bargeIn: boolean; notice?: boolean }): PlayHandle {
    let player;
    try {
      player = this.deps.prompts.createPlayer(toLibrarySpec(spec), {
        sampleRate: this.deps.settings.sampleRate,
        repeat: spec.repeat ?? 1,
        log: this.log,
      });
    } catch (err) {
      return { finished: Promise.resolve({ reason: 'error', error: err as Error }), stop: () => undefined };
    }
    const notice = options.notice ? this.recording : null;
    if (options.target === 'room') {
      // A room prompt is in the mix already: only the sidecar mark is needed.
      notice?.note('notice', { prompt: describeSpec(spec) });
      this.room.play(player);
    } else {
      this.leg.play(notice ? notice.tapNotice(player, CALLER_LEG, describeSpec(spec)) : player);
    }
    this.log.debug({ prompt: describeSpec(spec), target: options.target }, 'playing');
    return {
      finished: player.done.then((r) => (r.error ? { reason: r.reason, error: r.error } : { reason: r.reason })),
      stop: () => player.stop(),
    };
  }

  /** Starts the call's recording, or returns the one running; after a stop a new one starts (a voice message). */
  async startRecording(options: RecordingOptions): Promise<RecordingHandle> {
    if (this.recording && !this.recording.recorder.isClosed) return this.recording;
    const recorder = this.deps.recordings.createRecorder({
      roomId: this.room.id,
      sampleRate: this.deps.settings.sampleRate,
      stereo: options.stereo,
      stems: options.stems,
    });
    recorder.addLeg(CALLER_LEG, {
      uri: this.from.uri,
      displayName: this.from.displayName || null,
      identity: 'normal',
      callId: this.callId,
      originalTo: this.originalTo.uri,
      role: 'caller',
    });
    const hangup = this.deps.recordings.onWriteError === 'hangup';
    this.recording = new CallRecording(recorder, this.room, this.deps.settings.recordingDir, hangup ? () => this.endForCause(RECORDING_FAILED_REASON, 'recording could not be written') : null);
    this.log.info({ recording: recorder.id }, 'recording');
    return this.recording;
  }

  async bridge(options: BridgeOptions): Promise<BridgeOutcome> {
    if (this.bridgeInProgress) throw new Error('a bridge is already in progress');
    const bridge = new B2bBridge(this, this.deps, this.log);
    this.bridgeInProgress = bridge;
    try {
      return await bridge.run(options);
    } finally {
      this.bridgeInProgress = null;
    }
  }

  joinConference(options: ConferenceJoinOptions): Promise<{ left: Promise<string> }> {
    return this.deps.conferences.join(this, options);
  }

  async transfer(target: string): Promise<void> {
    if (!this.uas) throw new Error('transfer needs an answered call');
    const res = await this.uas.request({
      method: 'REFER',
      headers: { 'Refer-To': `<${target}>`, 'Referred-By': `<${this.originalTo.uri}>` },
    } as unknown as Srf.SrfRequest);
    if (res.status < 200 || res.status >= 300) throw new Error(`REFER answered ${res.status}`);
    this.log.info({ target }, 'transferred');
    this.hangup();
  }

  /** Ends the call: one 'ended', the room closed. Idempotent. */
  end(reason: string): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    this.log.info({ reason }, 'call ended');
    this.safeEmit('ended', reason);
    this.room.close();
  }

  /** Why the call ended, as a Reason header value (null for an ordinary hang-up). */
  get reasonHeader(): string | null {
    return this.endReason;
  }

  /** Ends the call for a cause: every BYE (or the final response) carries `reasonHeader`. */
  endForCause(reasonHeader: string, why: string): void {
    if (this.endedFlag) return;
    this.endReason = reasonHeader;
    if (this.uas) destroyDialog(this.uas, this.log, { Reason: reasonHeader });
    else if (!this.res.finalResponseSent) this.res.send(503, { headers: { Reason: reasonHeader } });
    this.end(why);
  }

  private onInfo(req: Srf.SrfRequest, res: Srf.SrfResponse): void {
    const type = req.get('Content-Type') ?? '';
    if (!/application\/(dtmf-relay|dtmf)/i.test(type)) {
      res.send(200);
      return;
    }
    try {
      if (!this.leg.isClosed) this.leg.handleSipInfo(type, req.body ?? '');
      res.send(200);
    } catch (err) {
      this.log.warn({ err }, 'bad DTMF INFO');
      res.send(400);
    }
  }
}
