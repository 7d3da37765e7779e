// webrtc-client: joins a Parley conference room from a browser (mediasoup-client
// against Parley's API: POST /rooms/:name/webrtc, then /webrtc/:sessionId/...).
// Two WebRtcTransports per browser (mediasoup-client's go one way each): one
// sends the microphone (none for a listen session), one receives what the room
// sends this browser.
//
//   import { joinRoom } from './webrtc-client.ts';
//   const s = await joinRoom({ room: 'standup', role: 'participant', microphone: stream });
//   audioElement.srcObject = s.remoteStream;   // play it (and attach it before using WebAudio on it)
//   await s.leave();                           // also on pagehide: a closed tab leaves at once
import { Device } from 'mediasoup-client';
import type { types } from 'mediasoup-client';

export type WebRtcRole = 'participant' | 'barge' | 'whisper' | 'listen';

export interface JoinOptions {
  room: string;
  role: WebRtcRole;
  /** whisper: the roster leg id that hears this browser. */
  targetLegId?: string;
  /** participant/barge: how the roster shows this browser. */
  uri?: string;
  displayName?: string;
  identity?: 'normal' | 'generated' | 'impersonate';
  as?: { uri: string; displayName?: string };
  /** The microphone (participant, barge, whisper); ignored for listen. */
  microphone?: MediaStream;
  /** The API token; without it the request relies on the console's session cookie. */
  token?: string;
  /** Where the API is (default: this page's origin). */
  baseUrl?: string;
  /** mediasoup-client's handler, when its detection does not know the browser. */
  handlerName?: types.BuiltinHandlerName;
}

export interface WebRtcSession {
  sessionId: string;
  legId: string;
  role: WebRtcRole;
  room: string;
  /** What the room sends this browser. */
  remoteStream: MediaStream;
  /** The transport's connection state ('connected', 'failed', ...). */
  readonly connectionState: string;
  /** Called when the connection fails or closes (the server then drops the session too). */
  onClose: ((why: string) => void) | null;
  leave(): Promise<void>;
}

/** An API answer that was not 2xx: `status` and Parley's `{ error, message }`. */
export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ParleyApiError';
  }
}

interface CreateAnswer {
  sessionId: string;
  legId: string;
  role: WebRtcRole;
  room: string;
  routerRtpCapabilities: types.RtpCapabilities;
  sendTransport: TransportParameters | null;
  recvTransport: TransportParameters;
}

interface TransportParameters {
  id: string;
  iceParameters: types.IceParameters;
  iceCandidates: types.IceCandidate[];
  dtlsParameters: types.DtlsParameters;
}

export async function joinRoom(opts: JoinOptions): Promise<WebRtcSession> {
  const api = apiCaller(opts.baseUrl ?? '', opts.token);
  const body: Record<string, unknown> = { role: opts.role };
  for (const k of ['targetLegId', 'uri', 'displayName', 'identity', 'as'] as const) if (opts[k] !== undefined) body[k] = opts[k];
  const created = (await api('POST', `/rooms/${encodeURIComponent(opts.room)}/webrtc`, body)) as CreateAnswer;
  const sid = encodeURIComponent(created.sessionId);
  const device = opts.handlerName ? new Device({ handlerName: opts.handlerName }) : await Device.factory();
  let send: types.Transport | null = null;
  let recv: types.Transport | null = null;
  let state = 'new';
  let left = false;
  let watchTimer: ReturnType<typeof setInterval> | null = null;
  const session: WebRtcSession = {
    sessionId: created.sessionId,
    legId: created.legId,
    role: created.role,
    room: created.room,
    remoteStream: new MediaStream(),
    get connectionState() {
      return state;
    },
    onClose: null,
    async leave() {
      if (left) return;
      left = true;
      if (watchTimer) clearInterval(watchTimer);
      removeEventListener('pagehide', onPageHide);
      send?.close();
      recv?.close();
      await api('DELETE', `/webrtc/${sid}`, undefined, true).catch(() => undefined);
    },
  };
  // A closed tab or a navigation leaves at once (else the server finds it gone only after
  // ICE consent, media.webrtc.timeoutSec): every page that joins, the console's listen,
  // whisper and barge too, not only the participant page.
  const onPageHide = (): void => void session.leave();
  addEventListener('pagehide', onPageHide);
  try {
    await device.load({ routerRtpCapabilities: created.routerRtpCapabilities });
    const watch = (t: types.Transport): void => {
      t.on('connect', ({ dtlsParameters }, ok, fail) => {
        api('POST', `/webrtc/${sid}/connect`, { transportId: t.id, dtlsParameters }).then(() => ok(), fail);
      });
      t.on('connectionstatechange', (s) => {
        state = s;
        if ((s === 'failed' || s === 'closed') && !left) session.onClose?.(s);
      });
    };
    if (created.sendTransport) {
      const track = opts.microphone?.getAudioTracks()[0];
      if (!track) throw new Error('a microphone track is needed for this role');
      send = device.createSendTransport(created.sendTransport);
      watch(send);
      send.on('produce', ({ kind, rtpParameters }, ok, fail) => {
        api('POST', `/webrtc/${sid}/produce`, { kind, rtpParameters }).then((r) => ok({ id: (r as { producerId: string }).producerId }), fail);
      });
      await send.produce({ track, codecOptions: { opusStereo: false, opusDtx: false, opusFec: true } });
    }
    const c = (await api('POST', `/webrtc/${sid}/consume`, { rtpCapabilities: device.rtpCapabilities })) as {
      id: string;
      producerId: string;
      kind: 'audio';
      rtpParameters: types.RtpParameters;
    };
    recv = device.createRecvTransport(created.recvTransport);
    watch(recv);
    const consumer = await recv.consume({ id: c.id, producerId: c.producerId, kind: c.kind, rtpParameters: c.rtpParameters });
    session.remoteStream.addTrack(consumer.track);
    // Parley ending the session (a kick, the room closing, a console sign-out) does not reach the
    // browser by itself (its ICE fails some 15 s later): the session is looked at every 3 s, and
    // once it is gone the page is told ('removed') and its transports closed.
    watchTimer = setInterval(() => {
      api('GET', `/webrtc/${sid}`).catch((err: unknown) => {
        if (left || !(err instanceof ParleyApiError) || err.status !== 404) return;
        left = true;
        if (watchTimer) clearInterval(watchTimer);
        removeEventListener('pagehide', onPageHide);
        send?.close();
        recv?.close();
        session.onClose?.('removed');
      });
    }, 3000);
    return session;
  } catch (err) {
    await session.leave();
    throw err;
  }
}

function apiCaller(base: string, token: string | undefined) {
  // keepalive: a leave() from a closing page (pagehide) still reaches the server.
  return async (method: string, path: string, body?: unknown, keepalive = false): Promise<unknown> => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(base + path, { method, headers, keepalive, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: { error?: string; message?: string } | undefined;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) throw new ParleyApiError(res.status, json?.error ?? 'error', json?.message ?? `${res.status} ${res.statusText}`);
    return json;
  };
}
