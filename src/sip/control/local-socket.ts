// One end of an in-process control connection: a net.Socket (drachtio-srf accepts only
// those) whose bytes go to its peer in the same process without a kernel socket. The
// embedded server and the drachtio-srf app of one process talk over a pair of these: a
// control message then costs no write/read syscalls and no event-loop turn (over TCP
// loopback, each message waited for the next poll phase on the other end).
// Bytes are handed over in a microtask, never inside the writer's call: a writer may still be
// filing the message id it just sent.
import net from 'node:net';

/** The address a local connection reports on both ends (drachtio-srf puts it in `req.server.address`). */
export interface LocalSocketAddress {
  address: string;
  port: number;
}

/**
 * A microtask, not process.nextTick: a message written from a promise continuation (an app's
 * 183 in the middle of its flow) is then read before that flow's next step runs, where a
 * nextTick would wait for every microtask queued behind it.
 */
function queueDelivery(to: LocalSocket, chunk: Buffer | null): void {
  queueMicrotask(() => {
    if (!to.destroyed) to.push(chunk);
  });
}

export class LocalSocket extends net.Socket {
  private peer: LocalSocket | null = null;

  private constructor(own: LocalSocketAddress, other: LocalSocketAddress) {
    super({ allowHalfOpen: false });
    // net.Socket's getters ask the (absent) handle: these own properties answer instead.
    Object.defineProperties(this, {
      remoteAddress: { value: other.address },
      remotePort: { value: other.port },
      localAddress: { value: own.address },
      localPort: { value: own.port },
    });
  }

  /**
   * Two connected ends: `[client, server]`. The client emits 'connect' in a later tick (as a
   * TCP socket would, once its caller has installed its listeners).
   */
  static pair(server: LocalSocketAddress, client: LocalSocketAddress = server): [LocalSocket, LocalSocket] {
    const c = new LocalSocket(client, server);
    const s = new LocalSocket(server, client);
    c.peer = s;
    s.peer = c;
    process.nextTick(() => {
      if (!c.destroyed) c.emit('connect');
    });
    return [c, s];
  }

  override _read(): void {
    // Data is pushed by the peer's writes.
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer) queueDelivery(this.peer, chunk);
    cb();
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    if (this.peer) queueDelivery(this.peer, chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)));
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    // end(): the peer reads its end of stream after the bytes written before.
    if (this.peer) queueDelivery(this.peer, null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    // A destroyed end closes the other one too, as a reset TCP connection would.
    if (peer) {
      peer.peer = null;
      process.nextTick(() => peer.destroy());
    }
    super._destroy(err, cb);
  }
}
