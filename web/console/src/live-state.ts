// What the console shows live, built from a snapshot (GET /calls, GET /rooms,
// the kept events of GET /events/recent) and then kept up to date by the event
// stream. Pure functions on plain data: every event may arrive twice (the
// stream replays from the snapshot's seq, so events already reflected in the
// snapshot come again) and applying it twice changes nothing.

export interface LegView {
  id: string;
  uri: string | null;
  muted: boolean;
  deaf: boolean;
  talking: boolean;
  identity?: string;
  displayName?: string | null;
  callId?: string | null;
}

export interface RecordingState {
  id: string;
  paused: boolean;
  masked: boolean;
  closed: boolean;
}

export interface CallView {
  id: string;
  flow: string | null;
  rule: string | null;
  from: string;
  to: string;
  requestUri: string | null;
  /** The call's media room id (recordings name it). */
  room: string | null;
  startedAt: string;
  legs: LegView[];
}

export interface RoomView {
  name: string;
  legs: LegView[];
}

export interface EndedCall {
  id: string;
  from: string;
  to: string;
  reason: string;
  at: string;
}

export interface LiveState {
  calls: Record<string, CallView>;
  rooms: Record<string, RoomView>;
  /** The rule that took each call (rule.matched), by Call-ID. */
  rules: Record<string, string>;
  /** Recording state by media room id. */
  recordings: Record<string, RecordingState>;
  ended: EndedCall[];
  lastSeq: number;
}

export interface ApiEvent {
  type: string;
  seq: number;
  at: string;
  data: Record<string, unknown>;
}

const KEEP_ENDED = 20;

export function emptyState(): LiveState {
  return { calls: {}, rooms: {}, rules: {}, recordings: {}, ended: [], lastSeq: 0 };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
/** The state from GET /calls and GET /rooms (their JSON as the API gives it) and the kept events. */
export function fromSnapshot(calls: any[], rooms: any[], recent: ApiEvent[], lastSeq: number): LiveState {
  const s = emptyState();
  for (const e of recent) if (e.type === 'rule.matched' && typeof e.data.callId === 'string') s.rules[e.data.callId] = String(e.data.rule);
  for (const c of calls) {
    s.calls[c.id] = {
      id: c.id,
      flow: c.flow ?? null,
      rule: s.rules[c.id] ?? null,
      from: c.from?.uri ?? '',
      to: c.originalTo?.uri ?? '',
      requestUri: c.requestUri ?? null,
      room: c.room ?? null,
      startedAt: c.startedAt,
      legs: (c.legs ?? []).map((l: any) => ({
        id: l.id,
        uri: l.id === 'caller' ? (c.from?.uri ?? null) : l.id === 'callee' ? (c.originalTo?.uri ?? null) : null,
        muted: !!l.muted,
        deaf: !!l.deaf,
        talking: !!l.talking,
      })),
    };
    if (c.recording && c.room) s.recordings[c.room] = { id: c.recording.id, paused: !!c.recording.paused, masked: !!c.recording.masked, closed: !!c.recording.closed };
  }
  for (const r of rooms) {
    s.rooms[r.name] = {
      name: r.name,
      legs: (r.roster ?? []).map((e: any) => ({ id: e.leg, uri: e.uri ?? null, displayName: e.displayName ?? null, identity: e.identity, callId: e.callId ?? null, muted: !!e.muted, deaf: false, talking: !!e.talking })),
    };
  }
  s.lastSeq = lastSeq;
  return s;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The call a call-leg event is about: its Call-ID is known and the event names that call's own room. */
function callOf(s: LiveState, d: Record<string, unknown>): CallView | undefined {
  const c = typeof d.callId === 'string' ? s.calls[d.callId] : undefined;
  if (!c) return undefined;
  // `talking` of a call's legs has no room; roster events name the conference.
  return d.room === undefined || d.room === c.room ? c : undefined;
}

function withLeg(legs: LegView[], id: string, f: (l: LegView) => LegView, create?: () => LegView): LegView[] {
  const i = legs.findIndex((l) => l.id === id);
  if (i < 0) return create ? [...legs, create()] : legs;
  const next = legs.slice();
  next[i] = f(legs[i]!);
  return next;
}

/** The state after one event (a new object; the old one is left as it was). */
export function applyEvent(prev: LiveState, e: ApiEvent): LiveState {
  const s: LiveState = { ...prev, calls: { ...prev.calls }, rooms: { ...prev.rooms }, lastSeq: Math.max(prev.lastSeq, e.seq) };
  const d = e.data;
  const str = (k: string): string => (typeof d[k] === 'string' ? (d[k] as string) : '');
  switch (e.type) {
    case 'rule.matched': {
      s.rules = { ...s.rules, [str('callId')]: str('rule') };
      const c = s.calls[str('callId')];
      if (c) s.calls[c.id] = { ...c, rule: str('rule') };
      break;
    }
    case 'call.created': {
      const id = str('callId');
      const c = s.calls[id];
      s.calls[id] = {
        id,
        flow: (d.flow as string) ?? c?.flow ?? null,
        rule: s.rules[id] ?? c?.rule ?? null,
        from: str('from') || c?.from || '',
        to: str('to') || c?.to || '',
        requestUri: (d.requestUri as string) ?? c?.requestUri ?? null,
        room: c?.room ?? null,
        startedAt: c?.startedAt ?? e.at,
        legs: c?.legs ?? [],
      };
      break;
    }
    case 'call.ended': {
      const c = s.calls[str('callId')];
      if (c) {
        delete s.calls[c.id];
        s.ended = [{ id: c.id, from: c.from, to: c.to, reason: str('reason'), at: e.at }, ...s.ended.filter((x) => x.id !== c.id)].slice(0, KEEP_ENDED);
      }
      break;
    }
    case 'leg.joined': {
      let c = callOf(s, d);
      // A call's first leg names its room: the call learns it here.
      if (!c && typeof d.callId === 'string' && s.calls[d.callId] && s.calls[d.callId]!.room === null && d.identity === undefined) {
        c = { ...s.calls[d.callId]!, room: str('room') };
      }
      if (c) {
        const leg = str('leg');
        s.calls[c.id] = { ...c, legs: withLeg(c.legs, leg, (l) => ({ ...l, uri: str('uri') || l.uri }), () => ({ id: leg, uri: str('uri') || null, muted: false, deaf: false, talking: false })) };
      } else if (d.identity !== undefined) {
        const name = str('room');
        const r = s.rooms[name] ?? { name, legs: [] };
        const leg = str('leg');
        const fresh = (): LegView => ({ id: leg, uri: str('uri') || null, identity: str('identity'), callId: (d.callId as string) ?? null, muted: false, deaf: false, talking: false });
        s.rooms[name] = { ...r, legs: withLeg(r.legs, leg, (l) => l, fresh) };
      }
      break;
    }
    case 'leg.left': {
      const c = callOf(s, d);
      if (c) {
        s.calls[c.id] = { ...c, legs: c.legs.filter((l) => l.id !== str('leg')) };
      } else {
        const r = s.rooms[str('room')];
        if (r) {
          const legs = r.legs.filter((l) => l.id !== str('leg'));
          if (legs.length === 0) delete s.rooms[r.name];
          else s.rooms[r.name] = { ...r, legs };
        }
      }
      break;
    }
    case 'talking': {
      const talking = d.talking === true;
      const c = callOf(s, d);
      if (c) s.calls[c.id] = { ...c, legs: withLeg(c.legs, str('leg'), (l) => ({ ...l, talking })) };
      const r = d.room !== undefined ? s.rooms[str('room')] : undefined;
      if (r) s.rooms[r.name] = { ...r, legs: withLeg(r.legs, str('leg'), (l) => ({ ...l, talking })) };
      break;
    }
    case 'recording.started':
    case 'recording.state': {
      const room = str('room');
      const prevRec = s.recordings[room];
      // A recording.started replayed after the state it led to changes nothing.
      if (e.type === 'recording.started' && prevRec?.id === str('id')) break;
      s.recordings = { ...s.recordings, [room]: { id: str('id'), paused: d.paused === true, masked: d.masked === true, closed: d.closed === true } };
      break;
    }
    default:
      break;
  }
  return s;
}

/** A call's recording, if its room has one. */
export function recordingOf(s: LiveState, c: CallView): RecordingState | null {
  return c.room ? (s.recordings[c.room] ?? null) : null;
}

/** Replaces one call's legs and recording with what GET /calls/:id says (after an action: mute is not an event). */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export function refreshCall(prev: LiveState, c: any): LiveState {
  const fresh = fromSnapshot([c], [], [], prev.lastSeq);
  const view = fresh.calls[c.id];
  const old = prev.calls[c.id];
  if (!view || !old) return prev;
  const legs = view.legs.map((l) => ({ ...l, uri: old.legs.find((o) => o.id === l.id)?.uri ?? l.uri }));
  return { ...prev, calls: { ...prev.calls, [c.id]: { ...old, legs, flow: view.flow, room: view.room } }, recordings: { ...prev.recordings, ...fresh.recordings } };
}
