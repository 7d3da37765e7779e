// A minimal Janus HTTP API client for the AudioBridge plugin, enough to open
// rooms of plain-RTP PCMU participants for the mixing bench. One session; a
// long poll (GET /janus/<session>?maxev=N) runs for its whole life, which also
// keeps the session alive, and hands asynchronous events (the "joined" that
// carries Janus's RTP address) to whoever waits for them by handle id.
import { randomUUID } from 'node:crypto';
import type { RtpTarget } from './load-generator.ts';

interface JanusReply {
  janus: string;
  transaction?: string;
  sender?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
}

type Waiter = (event: JanusReply) => boolean;

export interface AudioBridgeRoomOptions {
  /** Packets Janus buffers per participant before mixing it (its jitter buffer). */
  prebuffer: number;
}

export class JanusAudioBridge {
  private readonly waiters = new Map<number, Waiter[]>();
  private polling = true;
  private pollAbort = new AbortController();
  private readonly poll: Promise<void>;
  private nextRoom = 1000;

  private constructor(
    private readonly url: string,
    private readonly session: number,
  ) {
    this.poll = this.longPoll();
  }

  static async connect(url: string): Promise<JanusAudioBridge> {
    const created = await post(url, { janus: 'create' });
    return new JanusAudioBridge(url, created.data!.id);
  }

  private get sessionUrl(): string {
    return `${this.url}/${this.session}`;
  }

  private async longPoll(): Promise<void> {
    while (this.polling) {
      try {
        // A controller per poll: fetch leaves its abort listener on the signal, and one
        // signal shared by thousands of polls piles them up (MaxListenersExceededWarning).
        this.pollAbort = new AbortController();
        const res = await fetch(`${this.sessionUrl}?maxev=100`, { signal: this.pollAbort.signal });
        const body = (await res.json()) as JanusReply | JanusReply[];
        for (const ev of Array.isArray(body) ? body : [body]) this.dispatch(ev);
      } catch (err) {
        if (!this.polling) return;
        // A failed poll (Janus restarting, a reset) is retried after a pause.
        void err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private dispatch(ev: JanusReply): void {
    if (ev.sender === undefined) return;
    const list = this.waiters.get(ev.sender);
    if (!list) return;
    const i = list.findIndex((w) => w(ev));
    if (i >= 0) list.splice(i, 1);
  }

  private waitFor(handle: number, match: (ev: JanusReply) => boolean, timeoutMs: number): Promise<JanusReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`janus: no event for handle ${handle} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(handle) ?? [];
      list.push((ev) => {
        if (!match(ev)) return false;
        clearTimeout(timer);
        resolve(ev);
        return true;
      });
      this.waiters.set(handle, list);
    });
  }

  private async attach(): Promise<number> {
    const r = await post(this.sessionUrl, { janus: 'attach', plugin: 'janus.plugin.audiobridge' });
    return r.data!.id;
  }

  /** A synchronous plugin request (create, destroy): the answer is in the reply itself. */
  private async request(handle: number, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const r = await post(`${this.sessionUrl}/${handle}`, { janus: 'message', body });
    const data = r.plugindata?.data ?? {};
    if (data.error) throw new Error(`janus audiobridge ${String(body.request)}: ${String(data.error)}`);
    return data;
  }

  /**
   * Opens ceil(n / k) rooms at 8 kHz; participant i joins room floor(i / k)
   * as plain RTP PCMU sending to peerPorts[i] on 127.0.0.1. Resolves with
   * where each participant's RTP must be sent, and a close() that destroys
   * the rooms (Janus then stops their mixer threads).
   */
  async openRooms(peerPorts: number[], k: number, options: AudioBridgeRoomOptions): Promise<{ targets: RtpTarget[]; close: () => Promise<void> }> {
    const admin = await this.attach();
    const handles: number[] = [admin];
    const rooms: number[] = [];
    const targets: RtpTarget[] = [];
    for (let i = 0; i < peerPorts.length; i++) {
      if (i % k === 0) {
        const room = this.nextRoom++;
        await this.request(admin, {
          request: 'create',
          room,
          permanent: false,
          sampling_rate: 8000,
          allow_rtp_participants: true,
          audiolevel_event: false,
          audiolevel_ext: false,
          record: false,
          default_prebuffering: options.prebuffer,
          default_expectedloss: 0,
        });
        rooms.push(room);
      }
      const handle = await this.attach();
      handles.push(handle);
      const joined = this.waitFor(handle, (ev) => ev.plugindata?.data.audiobridge === 'joined' || ev.plugindata?.data.error !== undefined, 10_000);
      joined.catch(() => {}); // awaited below; only a failed POST leaves it unawaited
      const ack = await post(`${this.sessionUrl}/${handle}`, {
        janus: 'message',
        body: {
          request: 'join',
          room: rooms[rooms.length - 1],
          display: `leg-${i}`,
          codec: 'pcmu',
          prebuffer: options.prebuffer,
          expected_loss: 0,
          rtp: { ip: '127.0.0.1', port: peerPorts[i], payload_type: 0 },
        },
      });
      // The plugin handles a join asynchronously: an ack now, "joined" on the long poll.
      if (ack.janus !== 'ack') throw new Error(`janus join: ${JSON.stringify(ack)}`);
      const data = (await joined).plugindata!.data;
      if (data.error !== undefined) throw new Error(`janus join: ${String(data.error)}`);
      const rtp = data.rtp as { ip: string; port: number } | undefined;
      if (!rtp) throw new Error(`janus join: no rtp in ${JSON.stringify(data)}`);
      if (rtp.ip !== '127.0.0.1') throw new Error(`janus announced RTP on ${rtp.ip}, not loopback: refusing to send there`);
      targets.push({ host: rtp.ip, port: rtp.port });
    }
    return {
      targets,
      close: async () => {
        for (const room of rooms) await this.request(admin, { request: 'destroy', room, permanent: false });
        for (const h of handles) await post(`${this.sessionUrl}/${h}`, { janus: 'detach' });
      },
    };
  }

  async close(): Promise<void> {
    this.polling = false;
    try {
      await post(this.sessionUrl, { janus: 'destroy' });
    } catch {
      // Janus may already be gone.
    }
    this.pollAbort.abort();
    await this.poll;
  }
}

async function post(url: string, body: Record<string, unknown>): Promise<JanusReply> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, transaction: randomUUID() }) });
  const reply = (await res.json()) as JanusReply;
  if (reply.janus === 'error') throw new Error(`janus ${String(body.janus)}: ${reply.error?.code} ${reply.error?.reason}`);
  return reply;
}
