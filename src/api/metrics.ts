// Prometheus metrics (prom-client) in a registry of this process's own, so that
// several Parleys in one process (tests) do not share counters. Gauges are read
// from the live objects when scraped; counters follow the event hub.
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import type { Parley } from '../app.ts';
import type { MediaLeg } from '../media-plane/media-leg.ts';
import type { MediaRoom } from '../media-plane/media-room.ts';

const DROP_LABELS = { malformed: 'malformed', otherProtocol: 'other_protocol', wrongSource: 'wrong_source', unexpectedPt: 'unexpected_pt', srtpFailures: 'srtp_failure', ssrcProbation: 'ssrc_probation' } as const;
import type { MixerParticipant } from '../mixer/mixer-participant.ts';
import type { Recorder } from '../recording/recorder.ts';
import { recordingIo } from '../recording/io/recording-io.ts';
import type { ApiEvent } from './event-hub.ts';

type JitterStats = MixerParticipant['jitterStats'];

export class Metrics {
  readonly registry = new Registry();
  private readonly callsTotal: Counter;
  private readonly callsEnded: Counter<'reason'>;
  private readonly recordingBytes: Counter;
  private readonly recordingsSaved: Counter;
  private readonly recordingErrors: Counter;
  private readonly dtmfTotal: Counter;
  /** Every worker pid ever seen: a replacement worker has a new pid. */
  private readonly workerPidsSeen = new Set<number>();
  private readonly detach: (() => void)[] = [];

  constructor(private readonly parley: Parley) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_process_' });
    this.callsTotal = new Counter({ name: 'parley_calls_total', help: 'Calls taken by a flow (rate() of it is the call rate)', registers });
    this.callsEnded = new Counter({ name: 'parley_calls_ended_total', help: 'Calls ended, by flow outcome', labelNames: ['reason'], registers });
    this.recordingBytes = new Counter({ name: 'parley_recording_bytes_total', help: 'Bytes of recording files written (counted when a recording is saved)', registers });
    this.recordingsSaved = new Counter({ name: 'parley_recordings_saved_total', help: 'Recordings finalized', registers });
    this.recordingErrors = new Counter({ name: 'parley_recording_errors_total', help: 'Recording write failures (a full disk, an I/O error)', registers });
    this.dtmfTotal = new Counter({ name: 'parley_dtmf_digits_total', help: 'DTMF digits received from any leg of a call', registers });
    for (const p of parley.media?.workerPids ?? []) this.workerPidsSeen.add(p);
    // Every failure of every recorder (the event stream reports only the first few of each recording).
    const recs = parley.recordings;
    if (recs) {
      const onRecorder = (r: Recorder): void => {
        r.on('error', () => this.recordingErrors.inc());
      };
      recs.on('recorder', onRecorder);
      this.detach.push(() => recs.off('recorder', onRecorder));
      const store = recs.store;
      if (store) {
        const failures = new Counter({ name: 'parley_recording_upload_failures_total', help: 'Failed attempts to upload a recording to recording.store (each retried)', registers });
        const stored = new Counter({ name: 'parley_recordings_stored_total', help: 'Recordings uploaded and verified in recording.store', registers });
        const onFailed = (): void => failures.inc();
        const onStored = (): void => stored.inc();
        store.on('uploadFailed', onFailed).on('stored', onStored);
        this.detach.push(() => store.off('uploadFailed', onFailed).off('stored', onStored));
        new Gauge({
          name: 'parley_recording_uploads_pending',
          help: 'Recordings whose upload to recording.store is not verified yet (journaled)',
          registers,
          collect() {
            this.set(store.pending);
          },
        });
        new Gauge({
          name: 'parley_recording_uploads_failing',
          help: 'Pending recordings whose last upload attempt failed (waiting for a retry)',
          registers,
          collect() {
            this.set(store.failing);
          },
        });
      }
    }

    const self = { parley, workerPidsSeen: this.workerPidsSeen, rooms: (): Promise<MediaRoom[]> => this.rooms() };
    new Gauge({
      name: 'parley_calls_active',
      help: 'Calls in progress',
      registers,
      collect() {
        this.set(self.parley.calls?.active.size ?? 0);
      },
    });
    new Gauge({
      name: 'parley_recordings_open',
      help: 'Recordings in progress',
      registers,
      collect() {
        this.set(self.parley.recordings?.open.size ?? 0);
      },
    });
    new Gauge({
      name: 'parley_worker_restarts',
      help: 'mediasoup workers replaced after dying, since start (seen at scrape time)',
      registers,
      collect() {
        const pids = self.parley.media?.workerPids ?? [];
        for (const p of pids) self.workerPidsSeen.add(p);
        this.set(self.workerPidsSeen.size - pids.length);
      },
    });
    new Gauge({
      name: 'parley_media_thread_restarts',
      help: 'Media threads replaced after dying (their calls ended with Q.850 cause 41), since start',
      registers,
      collect() {
        this.set(self.parley.media?.threadDeaths ?? 0);
      },
    });
    new Gauge({
      name: 'parley_media_thread_messages',
      help: 'Messages between the main thread and the media threads since start, by direction (to_thread, from_thread) and type',
      labelNames: ['direction', 'type'],
      registers,
      collect() {
        this.reset();
        const m = self.parley.media?.threadMessages;
        if (!m) return;
        for (const [type, n] of m.sent) this.set({ direction: 'to_thread', type }, n);
        for (const [type, n] of m.received) this.set({ direction: 'from_thread', type }, n);
      },
    });
    new Gauge({
      name: 'parley_recording_ticks_lost',
      help: 'Recorder ticks a media thread could not hand to the main thread (its ring was full), since start; should stay 0',
      registers,
      collect() {
        this.set(self.parley.media?.droppedRecordingTicks ?? 0);
      },
    });
    new Gauge({
      name: 'parley_legs',
      help: 'Media legs in call and conference rooms',
      registers,
      async collect() {
        const rooms = await self.rooms();
        this.set(rooms.reduce((n, r) => n + r.size, 0));
      },
    });
    new Gauge({
      name: 'parley_siprec_metadata_over_budget',
      help: 'SIPREC metadata documents over siprec.metadataBudget since start, by the bucket that was empty (session, source): an update refused with 503, or an INVITE\'s kept unparsed',
      labelNames: ['scope'],
      registers,
      collect() {
        const o = self.parley.calls?.siprecMetadataBudget.overBudget;
        this.set({ scope: 'session' }, o?.session ?? 0);
        this.set({ scope: 'source' }, o?.source ?? 0);
      },
    });
    new Gauge({
      name: 'parley_sip_requests_refused',
      help: 'SIP requests the embedded SIP server refused statelessly (503 + Retry-After) since start, by the limit reached (max_transactions_per_source: sip.maxTransactionsPerSource); absent with a drachtio-server',
      labelNames: ['limit'],
      registers,
      collect() {
        this.reset();
        const st = self.parley.sipStats;
        if (st) this.set({ limit: 'max_transactions_per_source' }, st.refusedOverSourceLimit);
      },
    });
    new Gauge({
      name: 'parley_sip_dns',
      help: 'Embedded SIP server, since start (RFC 3263, sip.dns): requests routed by SRV records (srv_routed), NAPTR or SRV queries that failed by a timeout, a refusal or a server failure (query_failed), requests sent on to the next SRV target after a transport error or a 503 (failover); absent with a drachtio-server',
      labelNames: ['event'],
      registers,
      collect() {
        this.reset();
        const d = self.parley.sipStats?.dns;
        if (!d) return;
        this.set({ event: 'srv_routed' }, d.srvRouted);
        this.set({ event: 'query_failed' }, d.queryFailures);
        this.set({ event: 'failover' }, d.failovers);
      },
    });
    new Gauge({
      name: 'parley_sip_source_over_budget',
      help: 'Embedded SIP server, since start: UDP datagrams dropped unparsed (udp_dropped), TCP/TLS connections paused (stream_paused) and closed after sip.sourceMaxPausedMs (stream_closed) because their source address was over sip.sourceBytesPerSecond or sip.sourceCpuMsPerSecond',
      labelNames: ['action'],
      registers,
      collect() {
        const o = self.parley.sipOverBudget;
        if (!o) return;
        this.set({ action: 'udp_dropped' }, o.udpDropped);
        this.set({ action: 'stream_paused' }, o.streamPauses);
        this.set({ action: 'stream_closed' }, o.streamClosed);
      },
    });
    new Gauge({
      name: 'parley_webrtc_sessions',
      help: 'Browser sessions open',
      registers,
      collect() {
        this.set(self.parley.webrtc?.size ?? 0);
      },
    });
    new Gauge({
      name: 'parley_webrtc_sessions_refused',
      help: 'Browser sessions refused (429) since start, by the cap reached (per_token: media.webrtc.maxSessionsPerToken, global: media.webrtc.maxSessions)',
      labelNames: ['limit'],
      registers,
      collect() {
        const r = self.parley.webrtc?.refused;
        this.set({ limit: 'per_token' }, r?.perToken ?? 0);
        this.set({ limit: 'global' }, r?.global ?? 0);
      },
    });
    new Gauge({
      name: 'parley_rooms',
      help: 'Media rooms open',
      registers,
      collect() {
        this.set(self.parley.media?.roomCount ?? 0);
      },
    });
    this.roomGauge('parley_mixer_late_ticks', 'Mixer ticks that ran more than one frame late, per room', (r) => r.mixerStats.late);
    this.roomGauge('parley_mixer_skipped_ticks', 'Mixer ticks never run because the process stalled, per room', (r) => r.mixerStats.skipped);
    this.legGauge('parley_leg_rtp_lost_packets', 'RTP packets lost per leg (jitter buffer)', (j) => j.lost);
    this.legGauge('parley_leg_rtp_jitter_ms', 'Interarrival jitter per leg in milliseconds (RFC 3550 estimate)', (j) => j.jitterMs);
    this.legGauge('parley_leg_rtcp_rtt_ms', 'Round-trip time per leg from RTCP (RFC 3550 §6.4.1), once measured', (_j, l) => l.rtcpStats?.rttMs ?? null);
    this.legGauge('parley_leg_remote_fraction_lost', "Fraction of Parley's packets the peer reported lost in its last RTCP report", (_j, l) => l.rtcpStats?.remote?.fractionLost ?? null);
    this.legGauge('parley_leg_remote_jitter_ms', "Jitter of Parley's stream as the peer reported it over RTCP", (_j, l) => l.rtcpStats?.remote?.jitterMs ?? null);
    const drops = (['malformed', 'otherProtocol', 'wrongSource', 'unexpectedPt', 'srtpFailures', 'ssrcProbation'] as const).map((cause) => ({ cause, label: DROP_LABELS[cause] }));
    const rooms = (): Promise<MediaRoom[]> => this.rooms();
    new Gauge({
      name: 'parley_leg_rtp_dropped_packets',
      help: "Datagrams a leg's RTP endpoint dropped, by cause (malformed, other_protocol: STUN, ZRTP or DTLS on a leg that negotiated none of them, wrong_source, unexpected_pt, srtp_failure, ssrc_probation: audio of a new SSRC interleaved with the stream, that never took it over), and audio packets its mixer input dropped (malformed_payload: Opus packets that break RFC 6716 §3.4)",
      labelNames: ['room', 'leg', 'cause'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rooms())
          for (const id of r.legIds) {
            const st = r.leg(id)?.endpoint?.stats;
            if (st) for (const d of drops) this.set({ room: r.id, leg: id, cause: d.label }, st[d.cause]);
            const p = r.leg(id)?.mixerParticipant;
            if (p) this.set({ room: r.id, leg: id, cause: 'malformed_payload' }, p.malformedPayloads);
          }
      },
    });
    new Gauge({
      name: 'parley_leg_opus_fec_recovered_packets',
      help: "Lost packets of a leg rebuilt from the in-band FEC of the packet after them (Opus, RFC 6716 §2.1.7), mixed and recorded in their place",
      labelNames: ['room', 'leg'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rooms())
          for (const id of r.legIds) {
            const p = r.leg(id)?.mixerParticipant;
            if (p?.codec === 'opus') this.set({ room: r.id, leg: id }, p.opusRecovered);
          }
      },
    });
    new Gauge({
      name: 'parley_rooms_forwarding',
      help: 'Rooms whose two legs are forwarded to each other without the mixer',
      registers,
      async collect() {
        this.set((await rooms()).filter((r) => r.forwardStats.mode === 'forward').length);
      },
    });
    this.roomGauge('parley_room_forwarded_packets', 'RTP packets forwarded leg to leg in a two-party room (both directions), per room', (r) => r.forwardStats.forwarded);
    new Gauge({
      name: 'parley_room_mode_switches',
      help: 'Switches of a two-party room between forwarding and mixing (a prompt, a third leg, a role change), per room, by the mode switched to (forward, mixed)',
      labelNames: ['room', 'to'],
      registers,
      async collect() {
        this.reset();
        for (const r of await rooms()) {
          this.set({ room: r.id, to: 'forward' }, r.forwardStats.toForward);
          this.set({ room: r.id, to: 'mixed' }, r.forwardStats.toMixed);
        }
      },
    });
    this.legGauge('parley_leg_encoded_frames', 'Frames the mixer encoded for a leg (mixed or transcoded; a forwarded leg gets none but silence while the other pauses)', (_j, l) => l.mixerParticipant?.encoded ?? null);
    new Gauge({
      name: 'parley_rtp_ports_in_use',
      help: 'RTP port pairs held by legs',
      registers,
      collect() {
        this.set(self.parley.media?.portsInUse ?? 0);
      },
    });
  }

  /** A gauge read per room from the live rooms at each scrape. */
  private roomGauge(name: string, help: string, read: (r: MediaRoom) => number): void {
    const rooms = (): Promise<MediaRoom[]> => this.rooms();
    new Gauge({
      name,
      help,
      labelNames: ['room'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await rooms()) this.set({ room: r.id }, read(r));
      },
    });
  }

  /** A gauge read per leg (its jitter buffer's statistics, the leg itself) at each scrape; null leaves it out. */
  private legGauge(name: string, help: string, read: (j: JitterStats, leg: MediaLeg) => number | null): void {
    const rooms = (): Promise<MediaRoom[]> => this.rooms();
    new Gauge({
      name,
      help,
      labelNames: ['room', 'leg'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await rooms())
          for (const id of r.legIds) {
            const leg = r.leg(id);
            const s = leg?.mixerParticipant?.jitterStats;
            const v = s && leg ? read(s, leg) : null;
            if (v !== null) this.set({ room: r.id, leg: id }, v);
          }
      },
    });
  }

  /** Follows the event hub for the counters. */
  handle(event: ApiEvent): void {
    switch (event.type) {
      case 'call.created':
        this.callsTotal.inc();
        return;
      case 'call.ended':
        this.callsEnded.inc({ reason: String(event.data.reason) });
        return;
      case 'dtmf':
        this.dtmfTotal.inc();
        return;
      case 'recording.saved':
        this.recordingsSaved.inc();
        this.countBytes(event.data.files as string[]).catch(() => undefined);
        return;
      default:
    }
  }

  close(): void {
    for (const d of this.detach.splice(0)) d();
    this.registry.clear();
  }

  /** The saved recording's files, stat'ed in one call to the recording I/O thread (not one libuv pool call per file). */
  private async countBytes(files: string[]): Promise<void> {
    const dir = this.parley.config.recording.dir;
    const sizes = await recordingIo().sizes(files.map((f) => join(dir, f)));
    this.recordingBytes.inc(sizes.reduce((a, b) => a + b, 0));
  }

  private async rooms(): Promise<MediaRoom[]> {
    const rooms: MediaRoom[] = [];
    for (const a of this.parley.calls?.active.values() ?? []) if (!a.call.room.isClosed) rooms.push(a.call.room);
    const confs = this.parley.conferences;
    for (const name of confs?.names ?? []) {
      const c = await confs!.get(name).catch(() => undefined);
      if (c && !c.room.isClosed) rooms.push(c.room);
    }
    return rooms;
  }
}
