// A SIP-less RTP endpoint for integration tests: a real UDP socket on
// 127.0.0.1 (or ::1, options.ip) that offers/answers SDP, streams a tone (or silence, or in-band
// DTMF) every 20 ms, sends RFC 4733 digits on its audio SSRC or a separate
// one, and records and decodes what it receives. It sends on a fixed clock
// (FramePacer, frame-pacer.ts): a loaded machine's late timer makes it send
// the frames that fell due in a burst, so its stream has no gap or phase jump
// (after a stall over 1 s it drops the backlog and its timestamps jump).
import dgram from 'node:dgram';
import { EventEmitter, once } from 'node:events';
import * as sdpTransform from 'sdp-transform';
import type { AudioDecoder, AudioEncoder, CodecName } from '../../src/mixer/codecs/audio-codec.ts';
import { CODECS } from '../../src/mixer/codecs/audio-codec.ts';
import { G711Decoder, G711Encoder } from '../../src/mixer/codecs/g711-codec.ts';
import { G722Decoder, G722Encoder } from '../../src/mixer/codecs/g722.ts';
import { OpusDecoder, OpusEncoder } from '../../src/mixer/codecs/opus-codec.ts';
import { OpusApplication, OpusWasm } from '../../src/mixer/codecs/opus-wasm.ts';
import { dtmfTone, tone } from './audio-analysis.ts';
import { generateSrtpKeyBase64, SrtpSession } from '../../src/media-plane/srtp/index.ts';
import type { SrtpSuite } from '../../src/media-plane/sdp-types.ts';
import { FramePacer } from './frame-pacer.ts';
import { buildRtp, dtmfPayload, parseRtp, type RtpPacket } from './rtp.ts';

export interface RtpPeerOptions {
  codec: CodecName;
  /** Payload type to offer/use for the codec (default: static, or 111 for opus). */
  pt?: number;
  /** telephone-event payload type, or null to offer none (default 101). */
  dtmfPt?: number | null;
  rtcpMux?: boolean;
  /** Send to wherever the first packet came from (for peers whose SDP exchange a SIP client does). */
  latch?: boolean;
  /** Swap each pair of consecutive audio packets on the wire (a reordering network). */
  reorder?: boolean;
  /** Drop every n-th audio packet (a lossy network). */
  dropEvery?: number;
  /** SDES-SRTP with this suite: RTP/SAVP and an a=crypto line with a key of its own. */
  srtp?: SrtpSuite;
  /** With `srtp` (AES-CM): its key has this 1-byte MKI (`|2^31|<value>:1`, as SBCs send it), put in every SRTP packet it sends. */
  srtpMki?: number;
  /** The address the socket binds to and the SDP names (default 127.0.0.1; ::1 makes an IPv6 peer, c=IN IP6). */
  ip?: string;
  /**
   * Packets of this many ms (G.711 and G.722 only; default 20), as a phone set to a=ptime:30
   * sends: the 20 ms frames' bytes are joined and cut into packets of this length, each sent
   * once whole (a 30 ms stream goes out 40 and 20 ms apart in turn). The SDP says a=ptime of it.
   * Opus: 2.5, 5 or 10 (each 20 ms frame encoded as that many packets), or 40 to 120 in steps
   * of 20, each packet one encode of that much audio (as a phone set to it sends).
   */
  ptime?: number;
  /** Opus: the packet length changes every 500 ms of audio, through these in turn (a stream that changes its ptime mid-call). */
  ptimeCycle?: number[];
  /** With `ptime`: every n-th packet is lost on the way (the first lost is the n-th sent). */
  loseEvery?: number;
}

type Mode = { kind: 'tone'; freq: number; amplitude: number } | { kind: 'silence' } | { kind: 'off' };

function codecPcmRate(codec: CodecName): number {
  return codec === 'PCMU' || codec === 'PCMA' ? 8000 : 16000;
}

function encoderFor(codec: CodecName): AudioEncoder {
  return codec === 'PCMU' ? new G711Encoder('ulaw') : codec === 'PCMA' ? new G711Encoder('alaw') : codec === 'G722' ? new G722Encoder() : new OpusEncoder(16000);
}

export class RtpPeer extends EventEmitter {
  /** What it sends (switchCodec() changes it mid-call). */
  codec: CodecName;
  pt: number;
  readonly dtmfPt: number | null;
  rate: number;
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  readonly received: (RtpPacket & { at: number })[] = [];
  /** performance.now() of each audio frame sent (or dropped on purpose): a loaded machine's stalls of this sender show as gaps. */
  readonly sentAt: number[] = [];
  /**
   * Each 20 ms audio packet as it went on the wire (not those of `ptime`, nor those `dropEvery` lost):
   * performance.now() then, and when the pacer's frame that sent it was due. With `reorder` a packet
   * held back goes with the next frame's (its due time): the network's swap is not the sender's lateness.
   */
  readonly wire: { at: number; due: number }[] = [];
  readonly ip: string;
  private readonly socket: dgram.Socket;
  private remote: { ip: string; port: number } | null = null;
  /** The 20 ms send clock; its stats show the catch-ups a loaded machine forced. */
  readonly pacer = new FramePacer((skipped) => this.tick(skipped));
  private closing: Promise<void> | null = null;
  private mode: Mode = { kind: 'off' };
  private seq = 1000;
  /** Sequence numbers of the separate DTMF SSRC, continuous across events. */
  private dtmfSeq = 30000;
  private ts = 5000;
  private sample = 0;
  private encoder: AudioEncoder;
  private readonly inband: { digit: string; frames: number }[] = [];
  /** With `reorder`, the packet held back to go out after the next one. */
  private held: Buffer | null = null;
  private readonly events: { digit: string; frames: number; ssrc: number | null }[] = [];
  /** With `ptime`: encoded bytes not yet sent, and the timestamp of the first. */
  private pending = Buffer.alloc(0);
  private pendingTs = 0;
  /** With `ptime`: packets of that length sent (or lost on purpose). */
  private ptimePackets = 0;
  /** Opus with `ptime`: the 20 ms frames' PCM not yet encoded, and the encoder of whole packets. */
  private pendingPcm: Int16Array[] = [];
  private longOpus: OpusWasm | null = null;
  private current: { digit: string; frames: number; sent: number; ts: number; ssrc: number; seqRef: 'main' | 'own'; ownSeq: number } | null = null;
  readonly options: RtpPeerOptions;
  /** Our SRTP key (when options.srtp), and the session once the other side's key is known. */
  readonly srtpKey: string | null;
  private srtpSession: SrtpSession | null = null;

  constructor(options: RtpPeerOptions) {
    super();
    this.options = options;
    this.ip = options.ip ?? '127.0.0.1';
    this.socket = dgram.createSocket(this.ip.includes(':') ? 'udp6' : 'udp4');
    this.srtpKey = options.srtp ? generateSrtpKeyBase64(options.srtp) : null;
    this.codec = options.codec;
    this.pt = options.pt ?? CODECS[options.codec].staticPt ?? 111;
    this.dtmfPt = options.dtmfPt === undefined ? 101 : options.dtmfPt;
    this.rate = codecPcmRate(options.codec);
    this.encoder = encoderFor(this.codec);
    this.socket.on('message', (raw, rinfo) => {
      const b = this.srtpSession ? this.srtpSession.unprotectRtp(raw) : raw;
      if (!b) return;
      const p = parseRtp(b);
      if (!p) return;
      if (!this.remote && options.latch) this.remote = { ip: rinfo.address, port: rinfo.port };
      this.received.push({ ...p, payload: Buffer.from(p.payload), at: performance.now() });
      this.emit('packet', p);
    });
  }

  async bind(): Promise<this> {
    this.socket.bind(0, this.ip);
    await once(this.socket, 'listening');
    return this;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The SDP address type of this peer (RFC 4566 §5.7). */
  get addrType(): 'IP4' | 'IP6' {
    return this.ip.includes(':') ? 'IP6' : 'IP4';
  }

  /** An SDP offer (or answer) describing this peer. */
  sdp(extra: string[] = [], direction = 'sendrecv'): string {
    const info = CODECS[this.codec];
    const pts = [this.pt, ...(this.dtmfPt !== null ? [this.dtmfPt] : [])];
    const lines = [
      'v=0', `o=peer 1 1 IN ${this.addrType} ${this.ip}`, 's=peer', `c=IN ${this.addrType} ${this.ip}`, 't=0 0',
      `m=audio ${this.port} ${this.srtpKey ? 'RTP/SAVP' : 'RTP/AVP'} ${pts.join(' ')}`,
      `a=rtpmap:${this.pt} ${info.name}/${info.rtpClock}${info.sdpChannels > 1 ? '/2' : ''}`,
    ];
    if (this.dtmfPt !== null) lines.push(`a=rtpmap:${this.dtmfPt} telephone-event/${info.rtpClock === 48000 ? 48000 : 8000}`, `a=fmtp:${this.dtmfPt} 0-16`);
    lines.push(`a=ptime:${this.options.ptime ?? 20}`);
    if (this.options.rtcpMux !== false) lines.push('a=rtcp-mux');
    if (this.srtpKey) lines.push(`a=crypto:1 ${this.options.srtp} inline:${this.srtpKey}${this.options.srtpMki === undefined ? '' : `|2^31|${this.options.srtpMki}:1`}`);
    lines.push(...extra, `a=${direction}`);
    return lines.join('\r\n') + '\r\n';
  }

  /** Takes the address to send to from the other side's SDP. */
  useRemoteSdp(sdp: string): void {
    const s = sdpTransform.parse(sdp);
    const m = s.media.find((x) => x.type === 'audio');
    if (!m) throw new Error('no audio in remote SDP');
    const ip = m.connection?.ip ?? s.connection?.ip;
    if (!ip) throw new Error('no c= in remote SDP');
    this.remote = { ip, port: m.port };
    if (this.srtpKey) {
      const c = m.crypto?.[0];
      if (!c) throw new Error('no a=crypto in the remote SDP of an SRTP peer');
      // The other side's MKI (`|MKI:length` among the key's parameters): in every packet it sends.
      const mki = /\|(\d+):(\d+)$/.exec(c.config.trim());
      const recvMki = mki ? { value: Number(mki[1]), length: Number(mki[2]) } : undefined;
      this.srtpSession = new SrtpSession({ suite: this.options.srtp!, sendKeyBase64: this.srtpKey, recvKeyBase64: c.config.replace(/^inline:/, '').split('|')[0], recvMki });
    }
  }

  /** Starts the 20 ms send loop (a fixed clock: frame n due n·20 ms after this call). */
  start(mode: Mode = { kind: 'silence' }): void {
    this.mode = mode;
    if (!this.closing) this.pacer.start();
  }

  setTone(freq: number, amplitude = 8000): void {
    this.mode = { kind: 'tone', freq, amplitude };
  }

  setSilence(): void {
    this.mode = { kind: 'silence' };
  }

  /** Queues an RFC 4733 digit; on `ssrc` (a separate stream) or on the audio SSRC when null; then `gapMs` without events. */
  queueDtmf(digit: string, ms = 100, ssrc: number | null = null, gapMs = 0): void {
    this.events.push({ digit, frames: Math.max(1, Math.round(ms / 20)), ssrc });
    if (gapMs > 0) this.events.push({ digit: '', frames: Math.round(gapMs / 20), ssrc });
  }

  /** Queues an in-band digit: `ms` of the two tones, then `gapMs` of silence. */
  queueInband(digit: string, ms = 100, gapMs = 100): void {
    this.inband.push({ digit, frames: Math.round(ms / 20) }, { digit: '', frames: Math.round(gapMs / 20) });
  }

  get pendingDigits(): number {
    return this.events.length + (this.current ? 1 : 0) + this.inband.length;
  }

  /** Resolves once `n` packets have been received in total. */
  waitForPackets(n: number, timeoutMs = 10000): Promise<void> {
    if (this.received.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onPacket = (): void => {
        if (this.received.length < n) return;
        clearTimeout(timer);
        this.off('packet', onPacket);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off('packet', onPacket);
        reject(new Error(`timed out with ${this.received.length}/${n} packets`));
      }, timeoutMs);
      this.on('packet', onPacket);
    });
  }

  /** Decodes received packets from index `from` on, in sequence order, at this peer's PCM rate (G.711 and G.722 packets of any length). */
  decoded(from = 0, decoderRate = this.rate): Int16Array {
    const pkts = this.received.slice(from).filter((p) => p.payloadType === this.pt).sort((a, b) => ((a.seq - b.seq + 0x8000) & 0xffff) - 0x8000);
    const dec: AudioDecoder = this.codec === 'PCMU' ? new G711Decoder('ulaw') : this.codec === 'PCMA' ? new G711Decoder('alaw') : this.codec === 'G722' ? new G722Decoder() : new OpusDecoder(16000);
    const samples = (p: RtpPacket): number => (this.codec === 'PCMU' || this.codec === 'PCMA' ? p.payload.length : this.codec === 'G722' ? 2 * p.payload.length : decoderRate / 50);
    const out = new Int16Array(pkts.reduce((n, p) => n + samples(p), 0));
    let at = 0;
    for (const p of pkts) {
      const frame = new Int16Array(samples(p));
      dec.decode(p.payload, frame);
      out.set(frame, at);
      at += frame.length;
    }
    dec.close();
    return out;
  }

  /**
   * Sends `codec` (its static payload type) from the next frame on, as a phone does once its
   * re-offer is answered: the same stream goes on (SSRC, sequence numbers, timestamps, the tone's phase).
   */
  switchCodec(codec: CodecName): void {
    this.encoder.close();
    this.sample = Math.round((this.sample * codecPcmRate(codec)) / this.rate);
    this.codec = codec;
    this.pt = CODECS[codec].staticPt ?? 111;
    this.rate = codecPcmRate(codec);
    this.encoder = encoderFor(codec);
  }

  /** Stops sending (as a phone that vanished would); the socket still receives. */
  stopSending(): void {
    this.pacer.stop();
  }

  /** Idempotent: a test may close its peers in `finally` whether or not it closed them already. */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.pacer.stop();
    try {
      this.encoder.close();
      this.longOpus?.delete();
    } finally {
      // A codec that fails to free (opusscript's wasm heap) must not leave the socket open: the
      // test file's process would never exit.
      await new Promise<void>((r) => this.socket.close(() => r()));
    }
  }

  send(packet: Buffer): void {
    if (!this.remote) return;
    if (this.srtpKey && !this.srtpSession) return; // no key from the other side yet
    this.socket.send(this.srtpSession ? this.withMki(this.srtpSession.protectRtp(packet)) : packet, this.remote.port, this.remote.ip);
  }

  /** The SRTP packet with options.srtpMki put in before its tag (RFC 3711 §3.1), when there is one. */
  private withMki(p: Buffer): Buffer {
    if (this.options.srtpMki === undefined) return p;
    const tag = this.options.srtp === 'AES_CM_128_HMAC_SHA1_32' ? 4 : 10;
    return Buffer.concat([p.subarray(0, p.length - tag), Buffer.from([this.options.srtpMki]), p.subarray(p.length - tag)]);
  }

  /** Joins a 20 ms frame's bytes to what waits and sends every whole packet of `ptime` ms (one byte per 8 kHz tick). */
  private sendPtime(frame: Buffer, ptime: number): void {
    if (this.pending.length === 0) this.pendingTs = this.ts;
    this.pending = Buffer.concat([this.pending, frame]);
    const bytes = ptime * 8;
    while (this.pending.length >= bytes) {
      this.sendLong(this.pendingTs, this.pending.subarray(0, bytes));
      this.pending = this.pending.subarray(bytes);
      this.pendingTs = (this.pendingTs + bytes) >>> 0;
    }
  }

  /**
   * Opus with `ptime`: below 20 ms, encodes the 20 ms frame's PCM as 20/ptime packets sent at
   * once; else joins the 20 ms frames' PCM and sends it encoded as one packet once there is
   * `ptime` ms of it (a shorter length first sends what waits, as a packet of its own).
   */
  private sendOpusPtime(pcm: Int16Array, ptime: number): void {
    this.longOpus ??= new OpusWasm(16000, 1, OpusApplication.VOIP);
    if (ptime < 20 || this.pendingPcm.length * 20 >= ptime) this.sendPendingOpus();
    if (ptime < 20) {
      const parts = Math.round(20 / ptime);
      const per = pcm.length / parts;
      for (let i = 0; i < parts; i++) {
        const part = pcm.slice(i * per, (i + 1) * per);
        this.sendLong((this.ts + i * ptime * 48) >>> 0, this.longOpus.encode(Buffer.from(part.buffer), per));
      }
      return;
    }
    if (this.pendingPcm.length === 0) this.pendingTs = this.ts;
    this.pendingPcm.push(pcm);
    if (this.pendingPcm.length * 20 >= ptime) this.sendPendingOpus();
  }

  /** The 20 ms frames' PCM waiting for a long Opus packet, encoded and sent as one. */
  private sendPendingOpus(): void {
    if (this.pendingPcm.length === 0 || !this.longOpus) return;
    const n = this.pendingPcm[0].length;
    const all = new Int16Array(this.pendingPcm.length * n);
    this.pendingPcm.forEach((p, i) => all.set(p, i * n));
    this.pendingPcm = [];
    this.sendLong(this.pendingTs, this.longOpus.encode(Buffer.from(all.buffer, all.byteOffset, all.byteLength), all.length));
  }

  /** One packet of `ptime` ms, unless loseEvery loses it. */
  private sendLong(timestamp: number, payload: Buffer): void {
    const seq = this.seq++;
    if (this.options.loseEvery !== undefined && ++this.ptimePackets % this.options.loseEvery === 0) return;
    this.send(buildRtp({ payloadType: this.pt, seq, timestamp, ssrc: this.ssrc, payload }));
  }

  /** Sends one 20 ms frame; `skipped` frames were dropped just before it (a stall over 1 s): the timestamp and the tone's phase jump by them. */
  private tick(skipped = 0): void {
    const n = this.rate / 50;
    const step = CODECS[this.codec].rtpClock / 50;
    if (skipped > 0) {
      this.ts = (this.ts + skipped * step) >>> 0;
      this.sample += skipped * n;
      this.pending = Buffer.alloc(0); // a ptime stream's packets start again after the gap
      this.pendingPcm = [];
    }
    let audioSuppressed = false;
    if (!this.current && this.events.length > 0) {
      const e = this.events.shift()!;
      this.current = { digit: e.digit, frames: e.frames, sent: 0, ts: this.ts, ssrc: e.ssrc ?? this.ssrc, seqRef: e.ssrc === null ? 'main' : 'own', ownSeq: 0 };
    }
    if (this.current && this.current.digit === '') {
      // A pause between digits: nothing sent on the event stream.
      if (++this.current.sent >= this.current.frames) this.current = null;
    } else if (this.current && this.dtmfPt !== null) {
      const c = this.current;
      c.sent++;
      const end = c.sent >= c.frames;
      const duration = c.sent * step;
      const count = end ? 3 : 1; // the end packet three times (RFC 4733 §2.5.1.4)
      for (let k = 0; k < count; k++) {
        const seq = c.seqRef === 'main' ? this.seq++ : this.dtmfSeq++;
        this.send(buildRtp({ payloadType: this.dtmfPt, marker: c.sent === 1 && k === 0, seq, timestamp: c.ts, ssrc: c.ssrc, payload: dtmfPayload(c.digit, end, duration) }));
      }
      if (c.seqRef === 'main') audioSuppressed = true;
      if (end) this.current = null;
    }
    let pcm: Int16Array | null = null;
    if (this.inband.length > 0) {
      const head = this.inband[0];
      pcm = head.digit ? dtmfTone(head.digit, this.rate, n, 6000, this.sample) : new Int16Array(n);
      if (--head.frames <= 0) this.inband.shift();
    } else if (this.mode.kind === 'tone') {
      pcm = tone(this.mode.freq, this.rate, n, this.mode.amplitude, this.sample);
    } else if (this.mode.kind === 'silence') {
      pcm = new Int16Array(n);
    }
    this.sample += n;
    if (pcm && !audioSuppressed) {
      this.sentAt.push(performance.now());
      const payload = new Uint8Array(1500);
      const len = this.encoder.encode(pcm, payload);
      const cycle = this.codec === 'opus' ? this.options.ptimeCycle : undefined;
      if (cycle || (this.options.ptime !== undefined && this.options.ptime !== 20)) {
        // One sequence number a packet (of ptime), as a phone numbers them.
        if (cycle) this.sendOpusPtime(pcm, cycle[Math.floor((this.sample - n) / (this.rate / 2)) % cycle.length]);
        else if (this.codec === 'opus') this.sendOpusPtime(pcm, this.options.ptime!);
        else this.sendPtime(Buffer.from(payload.subarray(0, len)), this.options.ptime!);
        this.ts = (this.ts + step) >>> 0;
        return;
      }
      const seq = this.seq++;
      const packet = buildRtp({ payloadType: this.pt, seq, timestamp: this.ts, ssrc: this.ssrc, payload: Buffer.from(payload.subarray(0, len)) });
      const drop = this.options.dropEvery !== undefined && seq % this.options.dropEvery === 0;
      if (drop) {
        // lost on the way
      } else if (!this.options.reorder) {
        this.send(packet);
        this.wire.push({ at: performance.now(), due: this.pacer.dueMs });
      } else if (this.held) {
        this.send(packet); // n+1 overtakes n
        this.send(this.held);
        const at = performance.now();
        this.wire.push({ at, due: this.pacer.dueMs }, { at, due: this.pacer.dueMs });
        this.held = null;
      } else {
        this.held = packet;
      }
    }
    this.ts = (this.ts + step) >>> 0;
  }
}
