// Batched UDP reading and sending for the legs' RTP sockets, through the
// parley-udp addon (media/native/parley-udp.c, built by media/native/build.sh).
//
// With Node's dgram every datagram is a wake-up of its own: libuv's callback, a
// Buffer, an address object, a call into JavaScript; every send a request object
// and its completion. Here the sockets stay Node's (bound, and closed, by dgram as
// before) but their reading moves to one epoll set per thread: when any is
// readable, the addon reads every ready socket into a shared buffer and calls
// `onPackets` once for the batch; sends are copied into another shared buffer
// and written out together once the current task is done (one microtask per
// batch). RTCP sockets and RTCP sends stay on dgram (a few packets a second).
//
// A handler is given a Buffer that views the shared receive buffer and an
// address object that is reused: both are valid during the call only (the
// jitter buffer, the SRTP session and the hub copy what they keep; the latch
// copies the packets it holds on probation).
//
// Without the addon (not built, another platform) or with media.nativeIo off,
// every socket is read by dgram as before.
import type dgram from 'node:dgram';
import { loadNativeAddon, nativeAddonPath } from '../util/native-addon.ts';

type Poller = object;

interface Addon {
  create(rx: ArrayBuffer, rxMeta: ArrayBuffer, rxText: ArrayBuffer, tx: ArrayBuffer, txMeta: ArrayBuffer, onPackets: (count: number) => void): Poller;
  add(p: Poller, fd: number, id: number): number;
  remove(p: Poller, id: number): void;
  setDest(p: Poller, id: number, ip: string, port: number): number;
  flush(p: Poller, count: number): void;
  stats(p: Poller): number[];
  close(p: Poller): void;
  constants: { RX_MAX: number; SLOT: number; RX_STRIDE: number; ADDR_TEXT: number; TX_STRIDE: number };
}

export type DatagramHandler = (buf: Buffer, rinfo: dgram.RemoteInfo) => void;

/** Where the addon is built (media/native/build.sh). */
export const ADDON_PATH = nativeAddonPath('parley-udp');

/** Send buffer: packets queued within one task (a tick of every room on the thread). */
const TX_BYTES = 512 * 1024;
const TX_MAX = 2048;

let addon: Addon | null | undefined;
let loadError: string | null = null;

function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  const loaded = loadNativeAddon<Addon>('parley-udp');
  addon = loaded.addon;
  loadError = loaded.error;
  return addon;
}

/** Why the addon could not be used (null: it loads, or was not tried). */
export function nativeUdpError(): string | null {
  loadAddon();
  return loadError;
}

/** The file descriptor of a bound dgram socket, with dgram's own reading stopped (null: not to be had). */
function takeFd(socket: dgram.Socket): number | null {
  const sym = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol');
  const handle = sym === undefined ? undefined : (socket as unknown as Record<symbol, { handle?: { fd?: unknown; recvStop?: () => number } }>)[sym]?.handle;
  if (!handle || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.recvStop !== 'function') return null;
  handle.recvStop();
  return handle.fd;
}

let threadInstance: NativeUdp | null | undefined;

export class NativeUdp {
  /** This thread's instance (null: the addon is not available; MediaEngine.create logs why). */
  static forThread(): NativeUdp | null {
    if (threadInstance !== undefined) return threadInstance;
    const a = loadAddon();
    threadInstance = a === null ? null : new NativeUdp(a);
    return threadInstance;
  }

  private readonly poller: Poller;
  private readonly rx: ArrayBuffer;
  private readonly rxMeta: Int32Array;
  private readonly rxText: Buffer;
  private readonly txBytes: Uint8Array;
  private readonly txMeta: Int32Array;
  private readonly slot: number;
  private readonly stride: number;
  private readonly textSize: number;
  private readonly handlers: (DatagramHandler | null)[] = [];
  /** The view handed out last for each receive slot. */
  private readonly views: (Buffer | undefined)[] = [];
  /** The last source address each socket saw (the addon says when it changes). */
  private readonly sources: string[] = [];
  private readonly fds: number[] = [];
  private readonly free: number[] = [];
  private readonly rinfo: dgram.RemoteInfo = { address: '', family: 'IPv4', port: 0, size: 0 };
  private txCount = 0;
  private txOff = 0;
  private flushQueued = false;

  private constructor(private readonly addon: Addon) {
    const c = addon.constants;
    this.slot = c.SLOT;
    this.stride = c.RX_STRIDE;
    this.textSize = c.ADDR_TEXT;
    this.rx = new ArrayBuffer(c.RX_MAX * c.SLOT);
    const rxMeta = new ArrayBuffer(c.RX_MAX * c.RX_STRIDE * 4);
    const rxText = new ArrayBuffer(c.RX_MAX * c.ADDR_TEXT);
    const tx = new ArrayBuffer(TX_BYTES);
    const txMeta = new ArrayBuffer(TX_MAX * c.TX_STRIDE * 4);
    this.rxMeta = new Int32Array(rxMeta);
    this.rxText = Buffer.from(rxText);
    this.txBytes = new Uint8Array(tx);
    this.txMeta = new Int32Array(txMeta);
    this.poller = addon.create(this.rx, rxMeta, rxText, tx, txMeta, this.onPackets);
  }

  /** Sockets read here now. */
  get sockets(): number {
    return this.fds.length - this.free.length;
  }

  /** Batches read, packets read, packets sent, send errors (since the thread started). */
  get counters(): { batches: number; packetsIn: number; packetsOut: number; sendErrors: number } {
    const [batches, packetsIn, packetsOut, sendErrors] = this.addon.stats(this.poller);
    return { batches, packetsIn, packetsOut, sendErrors };
  }

  /** Reads `socket` here from now on (dgram stops reading it); null: it cannot be, dgram reads it still. */
  attach(socket: dgram.Socket, onMessage: DatagramHandler): number | null {
    const fd = takeFd(socket);
    if (fd === null) return null;
    const id = this.free.pop() ?? this.fds.length;
    if (this.addon.add(this.poller, fd, id) !== 0) {
      this.free.push(id);
      return null;
    }
    this.fds[id] = fd;
    this.handlers[id] = onMessage;
    this.sources[id] = '';
    return id;
  }

  /** Stops reading socket `id` (before it is closed); what was queued for it is sent first. */
  detach(id: number): void {
    if (this.handlers[id] == null) return;
    if (this.txCount > 0) this.flush();
    this.addon.remove(this.poller, id);
    this.handlers[id] = null;
    this.free.push(id);
  }

  /** Where socket `id` sends from now on (an IP literal); false: not one. */
  setDest(id: number, ip: string, port: number): boolean {
    return this.addon.setDest(this.poller, id, ip, port) === 0;
  }

  /** Queues `packet` (copied) to go out of socket `id` once the current task is done. */
  send(id: number, packet: Uint8Array): void {
    const len = packet.length;
    if (this.txOff + len > TX_BYTES || this.txCount === TX_MAX) this.flush();
    if (len > TX_BYTES) return;
    this.txBytes.set(packet, this.txOff);
    const m = this.txCount * 3;
    this.txMeta[m] = id;
    this.txMeta[m + 1] = this.txOff;
    this.txMeta[m + 2] = len;
    this.txOff += len;
    this.txCount++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const n = this.txCount;
    if (n === 0) return;
    this.txCount = 0;
    this.txOff = 0;
    this.addon.flush(this.poller, n);
  };

  /** The addon read `count` packets: each to its socket's handler. */
  private readonly onPackets = (count: number): void => {
    const meta = this.rxMeta;
    const rinfo = this.rinfo;
    for (let i = 0; i < count; i++) {
      const m = i * this.stride;
      const id = meta[m];
      const handler = this.handlers[id];
      if (handler == null) continue;
      if (meta[m + 3] === 1) {
        const start = i * this.textSize;
        const end = this.rxText.indexOf(0, start);
        this.sources[id] = this.rxText.toString('latin1', start, end < 0 || end > start + this.textSize ? start + this.textSize : end);
      }
      const len = meta[m + 1];
      rinfo.address = this.sources[id];
      rinfo.port = meta[m + 2];
      rinfo.family = meta[m + 4] === 6 ? 'IPv6' : 'IPv4';
      rinfo.size = len;
      // The slot's view of the last batch when it has this length (a stream's packets mostly
      // do): no Buffer made per packet. A view is valid during the call only, as its bytes are.
      let view = this.views[i];
      if (view === undefined || view.length !== len) this.views[i] = view = Buffer.from(this.rx, i * this.slot, len);
      handler(view, rinfo);
    }
  };
}
