// The Parley process: owns the media engine, prompts, recordings, conferences, the SIP side and
// the calls; starts them in order and closes them in reverse order. See src/CLOSURES.md.
import { ApiServer } from './api/api-server.ts';
import { CallManager } from './call/call-manager.ts';
import { ConferenceManager } from './call/conference/conference-manager.ts';
import { attachCluster } from './cluster/attach-cluster.ts';
import { ClusterNode } from './cluster/cluster-node.ts';
import { loadConfigFile } from './config/load-config.ts';
import type { ParleyConfig } from './config/schema.ts';
import { MediaEngine } from './media-plane/media-engine.ts';
import { checkMediaAddresses } from './media-plane/media-address-check.ts';
import { PromptLibrary } from './playback/prompt-library.ts';
import { LoopStallMonitor } from './util/loop-stall-monitor.ts';
import { RoutingTable } from './policy/routing-table.ts';
import { LoopMarker } from './policy/loop-marker.ts';
import { compileSource } from './policy/pattern.ts';
import { ComplianceService, stateDir } from './recording/compliance/compliance-service.ts';
import { lockRecordingDir, type RecordingDirLock } from './recording/dir-lock.ts';
import { RecordingService } from './recording/recording-service.ts';
import { RecordingEncryption } from './recording/encryption/recording-encryption.ts';
import { RecordingUploader } from './recording/store/recording-uploader.ts';
import { InboundRouter } from './signaling/inbound-router.ts';
import { EarlyRequests } from './signaling/early-requests.ts';
import { connectSrf, type SrfConnection } from './signaling/srf-connection.ts';
import { componentLogger, type Logger } from './util/logger.ts';
import { TypedEmitter } from './util/typed-emitter.ts';
import { WebRtcSessions } from './webrtc/webrtc-sessions.ts';
import { within } from './util/within.ts';
import { findConsultation, type RemoteConsultation } from './call/consultation.ts';
import type { ReplacesId } from './call/refer-request.ts';
import { nodeHolding, remoteConsultation } from './cluster/remote-consultation.ts';
import { answerReplacingInvite } from './call/replacing-invite.ts';

/** How long a stop waits for the calls to end and the recordings to be finalized while the API still sends events. */
const FINISH_MS = 10_000;
/** How long a stop waits for webhook requests in flight (their timeout is 5 s). */
const WEBHOOK_QUIESCE_MS = 5500;
/** How long a stop waits for the upload attempts it stopped (their requests are aborted). */
const UPLOADS_STOP_MS = 2000;

/** drainrequested: POST /admin/drain asks the process to drain as on SIGTERM (main.ts does it). */
export type ParleyEvents = { close: []; drainrequested: [] };

export class Parley extends TypedEmitter<ParleyEvents> {
  readonly routing: RoutingTable;
  private mediaEngine: MediaEngine | null = null;
  private promptLibrary: PromptLibrary | null = null;
  /** Logs stalls of the main event loop (200 ms or more). */
  private loopStalls: LoopStallMonitor | null = null;
  private recordingService: RecordingService | null = null;
  private complianceService: ComplianceService | null = null;
  /** This process's hold on recording.dir (one Parley per recordings folder). */
  private dirLock: RecordingDirLock | null = null;
  private conferenceManager: ConferenceManager | null = null;
  private webrtcSessions: WebRtcSessions | null = null;
  private sip: SrfConnection | null = null;
  private earlyRequests: EarlyRequests | null = null;
  private router: InboundRouter | null = null;
  private callManager: CallManager | null = null;
  private apiServer: ApiServer | null = null;
  private clusterNode: ClusterNode | null = null;
  private closed = false;
  /** The stop in progress (shutdown()), shared by every caller. */
  private stopping: Promise<void> | null = null;

  private constructor(
    private configInForce: ParleyConfig,
    readonly log: Logger,
  ) {
    super(log);
    this.routing = new RoutingTable(configInForce.routing, configInForce.flows, LoopMarker.keyFor(configInForce));
  }

  static async start(config: ParleyConfig, log: Logger): Promise<Parley> {
    const app = new Parley(config, log);
    try {
      await app.startAll();
    } catch (err) {
      app.close();
      throw err;
    }
    return app;
  }

  get config(): ParleyConfig {
    return this.configInForce;
  }

  get media(): MediaEngine | null {
    return this.mediaEngine;
  }

  get calls(): CallManager | null {
    return this.callManager;
  }

  get conferences(): ConferenceManager | null {
    return this.conferenceManager;
  }

  /** Browsers in conference rooms (WebRTC through the rooms' mediasoup hubs). */
  get webrtc(): WebRtcSessions | null {
    return this.webrtcSessions;
  }

  get recordings(): RecordingService | null {
    return this.recordingService;
  }

  /** Signing, audit log, index, holds and retention of the recordings. */
  get compliance(): ComplianceService | null {
    return this.complianceService;
  }

  /** The SIP request router (its 'routed' events feed the API's rule.matched). */
  get inbound(): InboundRouter | null {
    return this.router;
  }

  get prompts(): PromptLibrary | null {
    return this.promptLibrary;
  }

  /** The SIP side's drachtio-srf (the API dials legs out with it). */
  get srf(): SrfConnection['srf'] | null {
    return this.sip?.srf ?? null;
  }

  /** Early dialogs of legs Parley dials (B legs, conference dial-outs): their requests before the 2xx. */
  get earlyLegs(): EarlyRequests | null {
    return this.earlyRequests;
  }

  /** The embedded SIP server's counts (null with a drachtio-server, or before start). */
  get sipStats(): ReturnType<SrfConnection['sipStats']> {
    return this.sip?.sipStats() ?? null;
  }

  /** The embedded SIP server's counts of sources over sip.sourceBytesPerSecond / sourceCpuMsPerSecond (null with a drachtio-server). */
  get sipOverBudget(): ReturnType<SrfConnection['overBudget']> {
    return this.sip?.overBudget() ?? null;
  }

  /** The SIP contacts the connected server announced on connect (`udp/host:port,…`); '' before. */
  get sipHostports(): string {
    return this.sip?.hostports ?? '';
  }

  /** This process as a cluster node, when `cluster` is configured. */
  get cluster(): ClusterNode | null {
    return this.clusterNode;
  }

  /** The control API, when `api.enabled`. */
  get api(): ApiServer | null {
    return this.apiServer;
  }

  /**
   * Re-reads the config file (SIGHUP). The rule chain and the flows change at
   * once for new requests; calls in progress keep what they started with. A file
   * that does not validate is refused and the config in force stays. TLS listeners
   * read their certificate files again.
   */
  reload(file: string): { ok: true; restartNeeded: string[] } | { ok: false; error: Error } {
    let next: ParleyConfig;
    try {
      next = loadConfigFile(file);
    } catch (err) {
      this.log.error({ err, file }, 'config reload refused; the old config stays in force');
      return { ok: false, error: err as Error };
    }
    const restartNeeded = (['sip', 'media', 'prompts', 'recording', 'log', 'api'] as const).filter(
      (k) => JSON.stringify(next[k]) !== JSON.stringify(this.configInForce[k]),
    );
    this.routing.replace(next.routing, next.flows);
    void this.sip?.renewTls(); // a renewed certificate put in place of the files sip.listen names (logged there)
    this.configInForce = { ...this.configInForce, routing: next.routing, flows: next.flows };
    this.log.info(
      { file, generation: this.routing.generation, rules: this.routing.chain.ruleNames.length, flows: Object.keys(next.flows).length },
      'config reloaded',
    );
    if (restartNeeded.length > 0) this.log.warn({ sections: restartNeeded }, 'these sections changed and take effect at the next start');
    return { ok: true, restartNeeded };
  }

  /**
   * SIGTERM: new calls get 503 at once; running calls may finish for up to
   * `timeoutMs`; those still up then end (BYE) and everything closes.
   */
  async drain(timeoutMs: number): Promise<void> {
    const calls = this.callManager;
    if (this.closed || !calls) return this.shutdown();
    this.mediaEngine?.stopping();
    calls.drain();
    // In a cluster: new rooms go to other nodes (503), this node's rooms still take joins.
    this.clusterNode?.drain();
    const until = Date.now() + timeoutMs;
    this.log.info({ calls: calls.active.size, timeoutMs }, 'draining');
    while (calls.active.size > 0 && Date.now() < until && !this.closed) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (calls.active.size > 0) this.log.warn({ calls: calls.active.size }, 'drain timeout: ending the calls still up');
    return this.shutdown();
  }

  /** POST /admin/drain: main.ts drains as on SIGTERM; without a listener (tests), the drain runs here. */
  requestDrain(): void {
    if (this.closed) return;
    if (this.safeEmit('drainrequested')) return;
    this.drain(this.configInForce.shutdown.drainTimeoutMs).catch((err: unknown) => this.log.error({ err }, 'drain failed'));
  }

  /**
   * Ends the calls (BYE) and the recordings, and waits (at most FINISH_MS) until the
   * calls are over and every recording is finalized while the API still sends their
   * call.ended and recording.saved (delivered, or spooled for the next start); then
   * closes and waits for the files, the spool and the signatures to be on disk.
   * Every caller gets the same promise: a second signal does not end the stop early.
   */
  shutdown(graceMs = 500): Promise<void> {
    this.mediaEngine?.stopping();
    this.stopping ??= this.stopAll(graceMs);
    return this.stopping;
  }

  private async stopAll(graceMs: number): Promise<void> {
    if (this.closed) return;
    const calls = this.callManager;
    const up = (calls?.active.size ?? 0) > 0;
    calls?.close();
    await Promise.all([
      // The SIP side gets a moment to send the BYEs.
      up ? new Promise((r) => setTimeout(r, graceMs)) : null,
      within(FINISH_MS, async () => {
        while ((calls?.active.size ?? 0) > 0) await new Promise((r) => setTimeout(r, 20));
      }),
      this.recordingService?.finishAll(FINISH_MS),
    ]);
    // Uploads stop while the API still takes their 'stored' reports (the rest resume at the next start).
    this.recordingService?.stopUploads();
    await within(UPLOADS_STOP_MS, async () => this.recordingService?.store?.idle());
    // Their webhooks in flight finish (a 5 s request timeout): none is sent again by the next start.
    await this.apiServer?.quiesce(WEBHOOK_QUIESCE_MS);
    await this.clusterNode?.leave();
    this.close();
    // The webhook deliveries still pending are written asynchronously: on disk before the process may exit.
    await this.apiServer?.settled();
    // Recording files complete asynchronously after close(): let them, before the process exits.
    await this.recordingService?.settled();
    // And their signatures and audit entries.
    await this.complianceService?.settled();
    await this.dirLock?.release();
  }

  /** Synchronous and idempotent: calls, then conferences, SIP, recordings, prompts, media. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.log.info('closing');
    // Before the API and the compliance log: an upload verified later must not report to closed listeners.
    this.recordingService?.stopUploads();
    this.apiServer?.close();
    this.callManager?.close();
    this.webrtcSessions?.close();
    this.clusterNode?.close();
    this.conferenceManager?.close();
    this.sip?.close();
    this.recordingService?.close();
    this.complianceService?.close();
    this.promptLibrary?.close();
    this.mediaEngine?.close();
    this.loopStalls?.close();
    // After a stop, stopAll releases it once the files are settled; here for a failed start or a plain close().
    if (this.stopping === null) void this.dirLock?.release();
    this.log.info('closed');
    this.safeEmit('close');
  }

  /** The rule that gave a call to a flow, with its retention (recordings' sidecars). */
  private async startAll(): Promise<void> {
    const c = this.configInForce;
    // What the nodes of a cluster show each other's APIs.
    const clusterToken = c.api.token ?? c.api.tokens[0]?.token ?? '';
    // First: nothing may touch the recordings folder (recovery, audit log) while another Parley writes there.
    this.dirLock = await lockRecordingDir(c.recording.dir, stateDir(c.recording.dir));
    this.loopStalls = new LoopStallMonitor({ log: componentLogger(this.log, 'loop') });
    await checkMediaAddresses(c.media);
    this.mediaEngine = await MediaEngine.create(c.media, componentLogger(this.log, 'media'), { prettyLogs: c.log.pretty });
    this.promptLibrary = new PromptLibrary({ dir: c.prompts.dir, cacheDir: c.prompts.cacheDir, voice: c.prompts.voice, log: this.log });
    this.recordingService = new RecordingService({
      dir: c.recording.dir,
      postProcess: c.recording.postProcess,
      postProcessReadRate: c.recording.postProcessReadRate,
      flushIntervalMs: c.recording.flushIntervalMs,
      pauseMode: c.recording.pauseMode,
      onWriteError: c.recording.onWriteError,
      minFreeBytes: c.recording.minFreeBytes,
      encryption: await RecordingEncryption.fromConfig(c.recording.encryption),
      store: c.recording.store ? new RecordingUploader({ dir: c.recording.dir, config: c.recording.store, log: this.log }) : null,
      log: this.log,
    });
    this.complianceService = await ComplianceService.start({
      dir: c.recording.dir,
      keyFile: c.recording.signing.keyFile,
      auditLog: c.recording.auditLog,
      retention: c.recording.retention,
      log: this.log,
    });
    // After-finalize steps, in order: sign (compliance) first; others are pushed after it.
    this.complianceService.attach(this.recordingService);
    const sampleRate = c.media.mixer.sampleRate;
    this.conferenceManager = new ConferenceManager(
      this.mediaEngine,
      this.promptLibrary,
      sampleRate,
      componentLogger(this.log, 'conference'),
      c.security.maxLegsPerRoom,
      c.media.mixer.narrowband,
    );
    const remote = async (id: ReplacesId): Promise<RemoteConsultation | null> => (this.clusterNode ? remoteConsultation(this.clusterNode, clusterToken, id, componentLogger(this.log, 'cluster')) : null);
    // A leg dialled into a room: its Replaces looked for among this Parley's calls, then (in a cluster) on the other nodes.
    this.conferenceManager.consultation = async (id) => (await findConsultation(() => this.callManager?.running ?? [], id, null)) ?? (await remote(id));
    this.webrtcSessions = new WebRtcSessions({
      media: this.mediaEngine,
      conferences: this.conferenceManager,
      config: c.media.webrtc,
      maxLegsPerRoom: c.security.maxLegsPerRoom,
      node: c.cluster?.nodeId,
      log: componentLogger(this.log, 'webrtc'),
    });
    this.sip = await connectSrf({ sip: c.sip, log: this.log, gateUntilReady: true });
    // Early dialogs of B legs and relayed INVITEs: the router gives their requests to whoever placed them.
    const earlyLegs = new EarlyRequests();
    this.earlyRequests = earlyLegs;
    this.callManager = new CallManager(
      {
        srf: this.sip.srf,
        earlyLegs,
        media: this.mediaEngine,
        prompts: this.promptLibrary,
        recordings: this.recordingService,
        conferences: this.conferenceManager,
        consultation: (id, from) => findConsultation(() => this.callManager?.running ?? [], id, from),
        remoteConsultation: remote,
        siprecGroupRecordings: (group) => this.complianceService?.groupRecordings(group) ?? [],
        settings: {
          loopMarker: this.routing.marker,
          outboundProxy: c.sip.outboundProxy,
          sampleRate,
          narrowband: c.media.mixer.narrowband,
          inbandDtmf: c.media.inbandDtmf,
          recordingDir: c.recording.dir,
          retentionDays: c.recording.retention.days,
          siprec: c.siprec,
          externalIp: c.sip.externalIp,
          sipT1: c.sip.timers.t1,
          holdPropagation: c.calls.holdPropagation,
          pointsAtParley: this.sip.pointsHere,
          trustDomain: c.security.upstreams.map(compileSource),
        },
      },
      this.routing,
      componentLogger(this.log, 'calls'),
      c.security,
      c.calls,
    );
    if (c.cluster) {
      const conferences = this.conferenceManager;
      const calls0 = this.callManager;
      this.clusterNode = new ClusterNode(
        c.cluster,
        () => ({ calls: calls0.admitted, rooms: conferences.names.length }),
        componentLogger(this.log, 'cluster', { node: c.cluster.nodeId }),
      );
      attachCluster(this.clusterNode, this.callManager, conferences, this.routing, {
        media: this.mediaEngine,
        listenIp: c.media.announcedIp ?? c.media.rtpIp,
        token: clusterToken,
        timeoutMs: c.media.rtpTimeoutSec * 1000,
        log: componentLogger(this.log, 'pipes'),
      });
      await this.clusterNode.start();
    }
    this.router = new InboundRouter(this.sip.srf, this.routing, componentLogger(this.log, 'router'), c.sip.timers.t1, earlyLegs, c.security.upstreams);
    const calls = this.callManager;
    this.router.on('app', (req, res, flow, decision, log) => {
      // An attended transfer's INVITE for a party of one of Parley's calls (RFC 3891): no new call.
      if (req.has('Replaces')) answerReplacingInvite(calls.running, req, res, log, this.clusterNode ? (id, ruri) => nodeHolding(this.clusterNode!, clusterToken, id, ruri, log) : undefined, (callId) => this.conferenceManager?.replacingTaker(callId) ?? null);
      else calls.take(req, res, flow, log, { bridgeTo: decision.outcome.kind === 'app' ? decision.outcome.bridgeTo : undefined, requestUri: decision.requestUri }, this.routing.ruleOf(decision.decidedBy));
    });
    this.router.earlyDialog = (req, res) => calls.earlyRequest(req, res);
    // Before the router takes requests: the API restores the saved rule switches.
    if (c.api.enabled) this.apiServer = await ApiServer.start(this, c.api, c.recording.dir, componentLogger(this.log, 'api'));
    this.router.attach();
    this.sip.ready(); // INVITEs got 503 until now (connectSrf gateUntilReady)
    // Once the API listens, so that each repaired recording reaches it (recording.saved).
    this.recordingService.recoverInterrupted().catch((err: unknown) => this.log.error({ err }, 'recording recovery failed'));
  }
}
