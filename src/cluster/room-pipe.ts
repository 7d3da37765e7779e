// A caller answered on this node (after an IVR or a PIN menu) joins a room
// another node owns, through a mediasoup PipeTransport between the two nodes'
// room hubs (MediaEngine.hubFor): the call room's mix Producer (Opus: the
// caller's voice) is consumed on a pipe and produced on the owner's hub, where
// hub.consume() makes it an input of the room; that input's own mix (mix-minus,
// RoomHub.produceInputMix, which needs an Opus input) comes back the same way
// into the caller's room as an input that only the caller leg hears.
// The owner's side answers POST /cluster/pipes (cluster-routes.ts); the pipe
// closes when the call ends (DELETE /cluster/pipes/:id).
// What comes back is the caller's own mix (RoomHub.produceInputMix: the room
// without its voice). Known limits: the piped caller is not on the owner's
// roster; a room closing on the owner is not told to the caller's node (the
// caller then hears silence until it hangs up).
import type * as ms from 'mediasoup/types';
import type { ConferenceJoinOptions } from '../call/ports.ts';
import type { SipCall } from '../call/sip-call.ts';
import type { ConferenceManager } from '../call/conference/conference-manager.ts';
import type { MediaEngine } from '../media-plane/media-engine.ts';
import type { Logger } from '../util/logger.ts';
import type { ClusterNode } from './cluster-node.ts';

export interface PipeOffer {
  room: string;
  id: string;
  ip: string;
  port: number;
  producerId: string;
  rtpParameters: ms.RtpParameters;
}

export interface PipeAnswer {
  ip: string;
  port: number;
  producerId: string;
  rtpParameters: ms.RtpParameters;
}

/** The owner's side: pipes by id, each with its transport. */
export class PipeAcceptor {
  private readonly pipes = new Map<string, { room: string; transport: ms.PipeTransport }>();

  constructor(
    private readonly media: MediaEngine,
    private readonly conferences: ConferenceManager,
    private readonly listenIp: string,
    private readonly log: Logger,
  ) {}

  async accept(o: PipeOffer): Promise<PipeAnswer> {
    const conf = await this.conferences.openRoom(o.room);
    const hub = await this.media.hubFor(conf.room.id);
    const transport = await hub.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: this.listenIp } });
    try {
      await transport.connect({ ip: o.ip, port: o.port });
      const producer = await transport.produce({ id: o.producerId, kind: 'audio', rtpParameters: o.rtpParameters, appData: { pipe: o.id } });
      const inputId = `pipe:${o.id}`;
      await hub.consume(producer.id, inputId);
      // The piped caller's own mix: the room without its voice (mix-minus), Opus, from the hub.
      const own = await hub.produceInputMix(inputId);
      transport.observer.once('close', () => own.close());
      const mix = await transport.consume({ producerId: own.id });
      this.pipes.get(o.id)?.transport.close();
      this.pipes.set(o.id, { room: o.room, transport });
      transport.observer.once('close', () => {
        if (this.pipes.get(o.id)?.transport === transport) this.pipes.delete(o.id);
      });
      this.log.info({ room: o.room, pipe: o.id, from: `${o.ip}:${o.port}` }, 'caller piped into the room from another node');
      return { ip: transport.tuple.localAddress ?? this.listenIp, port: transport.tuple.localPort, producerId: mix.producerId, rtpParameters: mix.rtpParameters };
    } catch (err) {
      transport.close();
      throw err;
    }
  }

  /** The caller's node says the call left: the pipe closes; the room closes when nobody else is in it. */
  async close(id: string): Promise<boolean> {
    const p = this.pipes.get(id);
    if (!p) return false;
    this.pipes.delete(id);
    p.transport.close();
    const conf = await this.conferences.get(p.room);
    if (conf && conf.roster.size === 0 && ![...this.pipes.values()].some((x) => x.room === p.room)) await this.conferences.closeRoom(p.room);
    return true;
  }

  closeAll(): void {
    for (const p of this.pipes.values()) p.transport.close();
    this.pipes.clear();
  }
}

/** The caller's side: joins `call` to a room `owner` holds; resolves with when it left. */
export async function pipeCallToOwner(
  node: ClusterNode,
  media: MediaEngine,
  listenIp: string,
  token: string,
  call: SipCall,
  options: ConferenceJoinOptions,
  owner: string,
  log: Logger,
): Promise<{ left: Promise<string> }> {
  const entry = await node.registry.entry(owner);
  if (!entry) throw new Error(`room ${options.room}: its owner ${owner} is not live`);
  const hub = await media.hubFor(call.room.id);
  // What goes to the owner is this call room's mix (Opus): the caller's voice and what is played to the room.
  // The owner's mix for the caller comes back as an input only the caller hears, so it stays out of that mix.
  const producer = hub.mixProducer;
  const transport = await hub.router.createPipeTransport({ listenInfo: { protocol: 'udp', ip: listenIp } });
  const id = `${node.nodeId}:${call.callId}`;
  const forget = (): void => {
    transport.close();
    fetch(`${entry.api}/cluster/pipes/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'x-parley-forwarded': '1' }, signal: AbortSignal.timeout(3000) }).catch((err: unknown) =>
      log.warn({ err, owner }, 'the room owner did not take the pipe down'),
    );
  };
  try {
    const out = await transport.consume({ producerId: producer.id });
    const offer: PipeOffer = { room: options.room, id, ip: transport.tuple.localAddress ?? listenIp, port: transport.tuple.localPort, producerId: producer.id, rtpParameters: out.rtpParameters };
    const res = await fetch(`${entry.api}/cluster/pipes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-parley-forwarded': '1' },
      body: JSON.stringify(offer),
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 200) throw new Error(`the room owner ${owner} refused the pipe: ${res.status} ${await res.text()}`);
    const answer = (await res.json()) as PipeAnswer;
    await transport.connect({ ip: answer.ip, port: answer.port });
    const mix = await transport.produce({ id: answer.producerId, kind: 'audio', rtpParameters: answer.rtpParameters });
    await hub.consume(mix.id, `pipe-mix:${options.room}`, { audience: [call.leg.id] });
  } catch (err) {
    forget();
    throw err;
  }
  log.info({ room: options.room, owner }, 'joined a room on another node through a pipe');
  const left = new Promise<string>((resolve) => {
    const done = (why: string): void => {
      forget();
      resolve(why);
    };
    call.once('ended', (reason: string) => done(reason));
    transport.observer.once('close', () => resolve('pipe closed'));
  });
  return { left };
}
