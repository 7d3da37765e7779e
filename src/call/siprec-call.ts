// A SIPREC recording session (RFC 7866) as its flow sees it: Parley is the
// Session Recording Server. The SRC's INVITE carries an offer with one m-line per
// recorded stream and the recording metadata (RFC 7865); each stream gets a
// receive-only leg in the session's own room (SiprecStreams), the recording writes
// a stem per stream, the stereo file (the two main participants) and the mix, and
// the metadata (every version as received, and a normalized view in the sidecar).
// Nothing is ever played or sent toward the SRC. Re-INVITEs and UPDATEs bring new
// offers (pause by a=inactive or c=0.0.0.0, resume, new streams) and new metadata;
// siprec-reoffers.ts answers them as transactions (one at a time, glare, errors).
import type Srf from 'drachtio-srf';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';
import { SdpNegotiationError } from '../media-plane/media-errors.ts';
import type { RecordingOrigin } from '../recording/compliance/retention-policy.ts';
import { MetadataBudget, type OverBudget } from '../siprec/metadata-budget.ts';
import { MAX_METADATA_BYTES } from '../siprec/rs-metadata.ts';
import { readSiprecBody, SiprecBodyError, type SiprecBody } from '../siprec/siprec-body.ts';
import { srsContact } from '../siprec/srs-contact.ts';
import type { Logger } from '../util/logger.ts';
import type { TokenBucket } from '../util/token-bucket.ts';
import { TypedEmitter } from '../util/typed-emitter.ts';
import type { CallDeps } from './call-deps.ts';
import { CallRecording } from './call-recording.ts';
import { ackWaitMs, createUas, destroyDialog, hangupInvite, inviteDeadReason, refuseRefers, type InviteState } from './dialog-util.ts';
import { parseNameAddr } from './name-addr.ts';
import type { BridgeOutcome, BridgeTarget, CallEvents, CallPort, NameAddr, PlayHandle, RecordingHandle, RecordingOptions } from './ports.ts';
import { MEDIA_THREAD_FAILED_REASON, MEDIA_TIMEOUT_REASON, RECORDING_FAILED_REASON } from './reasons.ts';
import type { SiprecGroups } from './siprec-groups.ts';
import { DEFAULT_JITTER_MS, SiprecStreams, type StreamChange } from './siprec-streams.ts';
import { SiprecReoffers, siprecWarning, type ReofferedSession, type ReofferMethod } from './siprec-reoffers.ts';
import { SiprecView } from './siprec-view.ts';

export class SiprecCall extends TypedEmitter<CallEvents> implements CallPort, ReofferedSession {
  readonly callId: string;
  readonly originalTo: NameAddr;
  readonly from: NameAddr;
  readonly requestUri: string;
  readonly bridgeTarget: BridgeTarget = 'to';
  readonly createdAt = Date.now();
  readonly view: SiprecView;
  /** Set by the call manager: the flow and rule, written into the session's recording (search, retention). */
  recordingOrigin: RecordingOrigin | null = null;
  private uas: Srf.Dialog | null = null;
  private endedFlag = false;
  /** The stream legs watched for RTP silence. */
  private readonly watched = new WeakSet<MediaLeg>();
  private canceled = false;
  private recording: CallRecording | null = null;
  /** Metadata versions received before the recording started: written once it has an id. */
  private readonly pendingMetadata: { xml: string; file: number }[] = [];
  /** The dialog's re-INVITEs and UPDATEs, one at a time, 491 while our offer awaits its ACK. */
  private readonly reoffers: SiprecReoffers;
  private metadataCount = 0;
  /** This session's share of siprec.metadataBudget; the source's is in `budget`. */
  private readonly metadataBucket: TokenBucket;
  /** Metadata updates refused over siprec.metadataBudget. */
  private metadataRefused = 0;
  /** createUAS is sending the 200 and waiting for the dialog: neither unanswered nor confirmed. */
  private answering = false;
  /** Legs the recording was told about (a stream set to port 0 leaves it). */
  private readonly recordedLegs = new Set<string>();
  /** The recording's pause or resume, due once the streams' buffered audio has played (applyPauses). */
  private pauseTimer: NodeJS.Timeout | null = null;

  private constructor(
    readonly deps: CallDeps,
    readonly req: Srf.SrfRequest,
    private readonly res: Srf.SrfResponse,
    readonly room: MediaRoom,
    private readonly streams: SiprecStreams,
    private readonly groups: SiprecGroups,
    private readonly budget: MetadataBudget,
    readonly log: Logger,
  ) {
    super(log);
    this.metadataBucket = budget.sessionBucket();
    this.reoffers = new SiprecReoffers(this, log, ackWaitMs(deps.settings.sipT1 ?? 500));
    this.callId = req.get('Call-ID') ?? room.id;
    this.originalTo = parseNameAddr(req.get('To'));
    this.from = parseNameAddr(req.get('From'));
    this.requestUri = req.uri;
    this.view = new SiprecView(this.callId, deps.settings.siprec?.maxMetadataBytes);
    room.on('close', (reason) => {
      if (reason === 'media-thread-died') this.endForCause(MEDIA_THREAD_FAILED_REASON, 'the media thread running the session failed');
    });
    req.on('cancel', () => {
      this.canceled = true;
      this.end('SRC canceled');
    });
  }

  /**
   * Reads the SRC's INVITE and creates the session's room and legs. Every failure
   * answers the INVITE (400/415 for a body it cannot read, 488 when nothing can be
   * recorded, 500 otherwise) and rejects. Bad metadata is not a failure.
   */
  static async create(deps: CallDeps, req: Srf.SrfRequest, res: Srf.SrfResponse, log: Logger, groups: SiprecGroups, budget: MetadataBudget): Promise<SiprecCall> {
    const callId = req.get('Call-ID') ?? 'unknown';
    let room: MediaRoom | null = null;
    try {
      const body = readSiprecBody(req.get('Content-Type'), req.body);
      if (body.sdp === null) throw new SdpNegotiationError('a SIPREC INVITE without an SDP offer', 304);
      room = await deps.media.createRoom(`siprec-${callId}`);
      const streams = new SiprecStreams(room, log, deps.settings.siprec?.maxStreams, deps.settings.siprec?.jitterMs);
      const changes = await streams.apply(body.sdp);
      const call = new SiprecCall(deps, req, res, room, streams, groups, budget, log);
      call.view.setStreams(streams.slotsForView);
      // Over the source's budget the INVITE's metadata is kept as received, not parsed: the session is recorded all the same.
      call.takeMetadata(body, 'INVITE', call.chargeMetadata(body.metadata));
      call.applyPauses(changes);
      log.info({ streams: streams.legs.length, metadata: body.metadata !== null, ignoredParts: body.ignored }, 'siprec: session offered');
      return call;
    } catch (err) {
      room?.close();
      if (!res.finalResponseSent) {
        if (err instanceof SiprecBodyError) res.send(err.status, { headers: { Warning: siprecWarning(399, err.message) } });
        else if (err instanceof SdpNegotiationError) res.send(488, { headers: { Warning: siprecWarning(err.warning, err.message) } });
        else res.send(500);
      }
      throw err;
    }
  }

  get answered(): boolean {
    return this.uas !== null;
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  get dialog(): Srf.Dialog | null {
    return this.uas;
  }

  /** The first stream's leg (the API's view of a call's "caller"). */
  get leg(): MediaLeg {
    return this.streams.legs[0] ?? (this.room.leg('s0') as MediaLeg);
  }

  get activeRecording(): CallRecording | null {
    return this.recording;
  }

  /** 200 OK with the assembled answer (a plain application/sdp body: RFC 7866 §7, multipart answers break clients). `early` is ignored. */
  async answer(): Promise<void> {
    if (this.uas || this.endedFlag || this.answering) return;
    this.answering = true;
    let uas: Srf.Dialog;
    const meta = this.req as unknown as { receivedOn?: string; protocol?: string };
    // RFC 7866 §6.1.1: the SRS's Contact carries +sip.srs.
    const contact = srsContact({ receivedOn: meta.receivedOn, protocol: meta.protocol, requestUri: this.req.uri, externalIp: this.deps.settings.externalIp });
    const headers: Record<string, string> = { 'Content-Type': 'application/sdp', ...(contact ? { Contact: contact } : {}) };
    try {
      // Listeners on the dialog the moment drachtio-srf makes it: a re-INVITE in the same read
      // from the SIP server would otherwise be answered by drachtio-srf itself.
      uas = await createUas(this.deps.srf, this.req, this.res, { localSdp: this.streams.answer, headers }, (d) => {
        d.on('destroy', () => this.end('SRC hung up'));
        this.reoffers.listen(d);
        d.on('info', (_req: Srf.SrfRequest, res: Srf.SrfResponse) => res.send(200));
        refuseRefers(d, this.log);
      });
    } finally {
      this.answering = false;
    }
    if (this.endedFlag) {
      destroyDialog(uas, this.log);
      return;
    }
    this.uas = uas;
    this.log.info('siprec: answered');
    this.watchStreams();
  }

  /**
   * Its streams are watched for RTP silence (media.rtpTimeoutSec) once answered, those a
   * re-offer adds too: when every stream the SRC should be sending (recvonly, not paused) has
   * been quiet that long, RTP and RTCP alike, the SRC is gone (an SBC that crashed or lost its
   * network sends no BYE): the session ends, its recording closed.
   */
  private watchStreams(): void {
    for (const leg of this.streams.legs) {
      if (this.watched.has(leg)) continue;
      this.watched.add(leg);
      leg.watchMedia();
      leg.on('mediatimeout', (secs) => this.endForCause(MEDIA_TIMEOUT_REASON, `media timeout: no RTP nor RTCP from the SRC on any stream for ${secs} s`));
    }
  }

  /** Starts the session's recording: a stem per stream, the stereo file of the two main participants, the mix. */
  async startRecording(options: RecordingOptions): Promise<RecordingHandle> {
    if (this.recording && !this.recording.recorder.isClosed) return this.recording;
    const defaults = this.deps.settings.siprec;
    const recorder = CallRecording.newRecorder(this.deps, this.room, this.recordingOrigin, {
      ...options,
      stereo: options.stereo ?? defaults?.stereo ?? true,
      stems: options.stems ?? defaults?.stems ?? true,
      pauseMode: defaults?.pauseMode ?? undefined,
    });
    // The streams play siprec.jitterMs behind: that much silence at the start is not written.
    const leadIn = defaults?.jitterMs ?? DEFAULT_JITTER_MS;
    this.recording = CallRecording.attach(this.deps, this.room, recorder, () => this.endForCause(RECORDING_FAILED_REASON, 'recording could not be written'), leadIn);
    for (const m of this.pendingMetadata.splice(0)) this.saveMetadataFile(m.xml, m.file);
    this.refresh();
    if (this.streams.allPaused) recorder.pause('siprec: every stream paused by the SRC');
    this.log.info({ recording: recorder.id }, 'siprec: recording');
    return this.recording;
  }

  /** Nothing is ever played toward a recording client. */
  play(): PlayHandle {
    this.log.warn('siprec: a play step was skipped (nothing is played to a recording client)');
    return { finished: Promise.resolve({ reason: 'error', error: new Error('nothing is played to a SIPREC client') }), stop: () => undefined };
  }

  async bridge(): Promise<BridgeOutcome> {
    return { kind: 'failed', status: 488, reason: 'a SIPREC session is not bridged' };
  }

  async joinConference(): Promise<{ left: Promise<string> }> {
    throw new Error('a SIPREC session does not join conferences');
  }

  async transfer(): Promise<void> {
    throw new Error('a SIPREC session is not transferred');
  }

  /** Why no SIP dialog keeps this session alive any more (CallManager's guard), or null. */
  deadReason(now: number, maxUnansweredMs: number): string | null {
    return inviteDeadReason(this.inviteState(), now, maxUnansweredMs);
  }

  /** A SIPREC session's streams are recorded, not listened to for keys: their detectors follow media.inbandDtmf alone. */
  wantDigits(): () => void {
    return () => undefined;
  }

  hangup(status?: number, reason?: string): void {
    if (!this.endedFlag) this.end(hangupInvite(this.inviteState(), this.log, status, reason));
  }

  private inviteState(): InviteState {
    return { ended: this.endedFlag, answering: this.answering, uas: this.uas, res: this.res, canceled: this.canceled, createdAt: this.createdAt };
  }

  endForCause(reasonHeader: string, why: string, status = 503): void {
    if (this.endedFlag) return;
    if (this.uas) destroyDialog(this.uas, this.log, { Reason: reasonHeader });
    else if (!this.res.finalResponseSent) this.res.send(status, { headers: { Reason: reasonHeader } });
    this.end(why);
  }

  end(reason: string): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.reoffers.close();
    this.log.info({ reason }, 'siprec: session ended');
    this.refresh();
    // The streams' deep jitter buffers still hold their last second (siprec.jitterMs):
    // it goes into the recording before the recording is told to stop.
    const room = this.room;
    const done = (): void => {
      this.safeEmit('ended', reason);
      room.close();
    };
    if (room.isClosed) done();
    else
      room.playOut().then(done, (err: unknown) => {
        this.log.warn({ err }, 'siprec: the streams could not be played out at the end');
        done();
      });
  }

  /** @internal siprec-reoffers.ts: an update whose metadata is over budget is refused (refuseOverBudget). */
  admitUpdate(method: ReofferMethod, body: SiprecBody, res: Srf.SrfResponse): boolean {
    const over = this.chargeMetadata(body.metadata);
    if (over) this.refuseOverBudget(method, res, over);
    return over === null;
  }

  /** @internal siprec-reoffers.ts: an update's offer taken; its metadata and pauses follow. */
  updated(method: ReofferMethod, body: SiprecBody, changes: StreamChange[]): string | null {
    this.view.noteUpdate(method, body.sdp !== null, body.metadata !== null);
    this.takeMetadata(body, method);
    this.applyPauses(changes);
    this.refresh();
    // An offerless re-INVITE (RFC 3261 §14.2): our SDP is the offer in the 200.
    const sdp = body.sdp !== null || method === 'INVITE' ? this.streams.answer : null;
    if (sdp && this.uas) this.uas.local.sdp = sdp;
    return sdp;
  }

  /** @internal siprec-reoffers.ts: a re-offer goes to the streams (none, or the session ended: no change). */
  async takeOffer(sdp: string | null): Promise<StreamChange[]> {
    if (sdp === null || this.endedFlag) return [];
    const changes = await this.streams.apply(sdp);
    this.view.setStreams(this.streams.slotsForView);
    if (this.uas) this.watchStreams();
    return changes;
  }

  private applyPauses(changes: StreamChange[]): void {
    for (const c of changes) {
      if (c.paused) this.view.pause(c.index);
      else this.view.resume(c.index);
    }
    if (!this.recording || this.recording.recorder.isClosed) return;
    // Every stream paused: the recording pauses (recording.pauseMode: skipped or silence, listed in `pauses`).
    // The streams are written siprec.jitterMs behind (their record-only jitter buffers): the
    // pause and the resume take effect that much later, where the files reach them, so the
    // audio received before the pause is kept and the first audio after the resume is not
    // cut. Nothing sent while paused is received, so nothing of it can reach the files.
    const paused = this.streams.allPaused;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      const recorder = this.recording?.recorder;
      if (!recorder || recorder.isClosed || this.endedFlag) return;
      if (paused) recorder.pause('siprec: every stream paused by the SRC');
      else recorder.resume();
    }, this.deps.settings.siprec?.jitterMs ?? DEFAULT_JITTER_MS);
  }

  /** Charges a metadata document to the session's and the source's budgets: null when taken (or nothing to parse). */
  private chargeMetadata(xml: string | null): OverBudget | null {
    if (xml === null) return null;
    const charge = MetadataBudget.charge(Buffer.byteLength(xml), this.deps.settings.siprec?.maxMetadataBytes ?? MAX_METADATA_BYTES);
    return this.budget.take(this.metadataBucket, this.req.source_address, charge);
  }

  /**
   * An update whose metadata is over budget is refused as a whole (RFC 3261 §14.1: the
   * session stays as it was) with 503 and Retry-After, which ends no dialog (RFC 5057
   * §5.1): the streams go on being recorded and the SRC may send it again.
   */
  private refuseOverBudget(method: string, res: Srf.SrfResponse, over: OverBudget): void {
    const n = ++this.metadataRefused;
    if (n === 1) this.view.note(`metadata updates refused (503) over ${over.key}: the recording went on`);
    // One line for the first and every 100th: a flood must not become a flood of log lines.
    const level = n === 1 || n % 100 === 0 ? 'warn' : 'debug';
    this.log[level]({ method, scope: over.scope, key: over.key, retryAfter: over.retryAfterSec, refused: n }, 'siprec: metadata over budget, update refused; recording goes on');
    res.send(503, 'Metadata Rate Exceeded', { headers: { 'Retry-After': String(over.retryAfterSec), Warning: siprecWarning(399, `recording metadata over ${over.key}`) } });
  }

  private takeMetadata(body: SiprecBody, method: string, over: OverBudget | null = null): void {
    if (body.metadata === null) {
      if (method === 'INVITE' && !this.uas) {
        this.view.note('no recording metadata in the INVITE');
        this.log.warn('siprec: no recording metadata in the INVITE; recording anyway');
      }
      return;
    }
    const n = ++this.metadataCount;
    const kept = this.view.keepsMoreVersions;
    const notParsed = over ? `metadata kept but not parsed: over ${over.key}` : null;
    const problem = this.view.addMetadata(body.metadata, method, this.metadataFileName(n), new Date(), notParsed);
    if (problem) this.log.warn({ problem, method }, 'siprec: metadata problem; recording anyway');
    // Past the versions the sidecar lists, a file would be in the folder unlisted (unhashed, unsigned, never removed).
    if (!kept) return;
    if (this.recording) this.saveMetadataFile(body.metadata, n);
    else this.pendingMetadata.push({ xml: body.metadata, file: n });
  }

  /** Parley's own name: the recording id and a counter, nothing from the XML. */
  private metadataFileName(n: number): string {
    return this.recording ? `${this.recording.id}.metadata-${n}.xml` : `pending.metadata-${n}.xml`;
  }

  private saveMetadataFile(xml: string, n: number): void {
    const name = `${this.recording!.id}.metadata-${n}.xml`;
    this.view.renameVersion(`pending.metadata-${n}.xml`, name);
    // The recorder writes it and waits for it before it hashes and signs (finalize).
    this.recording!.recorder.writeCompanion(name, xml);
  }

  /** Pushes the view to the recording: leg details, stereo sides, the sidecar's `siprec` section. */
  private refresh(): void {
    const recorder = this.recording?.recorder;
    if (!recorder || recorder.isClosed) return;
    const group = this.view.group;
    if (group) this.view.linked = this.groups.link(group, recorder.id);
    const infos = this.view.legInfos();
    for (const [legId, info] of infos) {
      const leg = this.room.leg(legId);
      if (!leg || leg.isClosed) continue;
      recorder.addLeg(legId, { ...info, callId: this.callId, identity: 'normal' });
      this.recordedLegs.add(legId);
    }
    for (const legId of this.recordedLegs) {
      if (infos.has(legId) && !this.room.leg(legId)?.isClosed) continue;
      recorder.removeLeg(legId);
      this.recordedLegs.delete(legId);
    }
    recorder.setSiprec(this.view.toSidecar());
  }
}
