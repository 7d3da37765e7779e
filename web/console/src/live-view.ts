// Live calls and rooms: legs (who is talking, muted), the flow and rule that took
// each call, its recording state, and the actions on them through the API.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, enc } from './api.ts';
import { recordingOf, type CallView, type LegView, type LiveState, type RecordingState, type RoomView } from './live-state.ts';
import { supervise, supervisorAvailable, type SuperviseMode, type SupervisionHandle } from './supervise.ts';

export interface LiveProps {
  state: LiveState;
  connected: boolean;
  /** Re-reads one call after an action (mute is not an event). */
  refresh(callId: string): Promise<void>;
}

function age(since: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function Leg(props: { leg: LegView; actions: unknown }) {
  const l = props.leg;
  return html`<li class=${`leg${l.talking ? ' talking' : ''}${l.muted ? ' muted' : ''}`} data-test="leg" data-leg=${l.id}>
    <span class="dot" title=${l.talking ? 'talking' : 'quiet'}></span>
    <span class="leg-id">${l.id}</span>
    <span class="uri">${l.displayName ? `${l.displayName} ` : ''}${l.uri ?? ''}</span>
    ${l.muted ? html`<span class="badge">muted</span>` : null}
    ${l.deaf ? html`<span class="badge">deaf</span>` : null}
    ${l.identity && l.identity !== 'normal' ? html`<span class="badge">${l.identity}</span>` : null}
    <span class="leg-actions">${props.actions}</span>
  </li>`;
}

function RecBadge(props: { rec: RecordingState | null }) {
  const r = props.rec;
  if (!r || r.closed) return html`<span class="rec off" data-test="rec-state">not recording</span>`;
  const what = r.masked ? 'masked' : r.paused ? 'paused' : 'recording';
  return html`<span class=${`rec ${what}`} data-test="rec-state" title=${r.id}>● ${what}</span>`;
}

/** A button that runs an API call and shows its failure. */
function Act(props: { label: string; test?: string; run: () => Promise<unknown>; danger?: boolean; onError: (m: string) => void }) {
  const [busy, setBusy] = useState(false);
  const click = async (): Promise<void> => {
    setBusy(true);
    try {
      await props.run();
    } catch (err) {
      props.onError(`${props.label}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return html`<button class=${props.danger ? 'danger' : ''} disabled=${busy} data-test=${props.test ?? props.label} onClick=${click}>${props.label}</button>`;
}

/** Listen in, whisper to one leg, barge: on conference rooms (the browser-participant API joins those). */
function Supervision(props: { room: string | null; legs: LegView[]; onError: (m: string) => void }) {
  const [active, setActive] = useState<SupervisionHandle | null>(null);
  if (!props.room) return null;
  const room = props.room;
  const available = supervisorAvailable();
  if (!available) return html`<div class="supervise off" data-test="supervise-off">listen-in needs the browser-participant module</div>`;
  const start = async (mode: SuperviseMode, leg?: string): Promise<void> => {
    if (active) await active.stop();
    const h = await supervise(room, mode, leg);
    setActive(h);
    // Dropped by the connection (not by the stop button): back to the buttons, saying why.
    h.ended.then((why) => {
      setActive((cur) => (cur === h ? null : cur));
      if (why !== 'stopped') props.onError(`${mode} ended: ${why}`);
    }, () => undefined);
  };
  if (active) {
    return html`<div class="supervise" data-test="supervising">
      <span class="badge live">${active.mode}${active.leg ? ` → ${active.leg}` : ''}</span>
      <${Act} label="stop" test="supervise-stop" run=${() => active.stop()} onError=${props.onError} />
    </div>`;
  }
  return html`<div class="supervise">
    <${Act} label="listen" test="listen" run=${() => start('listen')} onError=${props.onError} />
    ${props.legs.map((l) => html`<${Act} label=${`whisper ${l.id}`} test=${`whisper-${l.id}`} run=${() => start('whisper', l.id)} onError=${props.onError} />`)}
    <${Act} label="barge" test="barge" run=${() => start('barge')} onError=${props.onError} />
  </div>`;
}

function CallCard(props: { call: CallView; rec: RecordingState | null; rooms: string[]; refresh: (id: string) => Promise<void>; onError: (m: string) => void }) {
  const c = props.call;
  const id = enc(c.id);
  const act = async (path: string, body?: unknown): Promise<void> => {
    await api('POST', `/calls/${id}/${path}`, body);
    await props.refresh(c.id);
  };
  const rec = props.rec;
  const recording = rec && !rec.closed;
  const legActions = (l: LegView) =>
    html`<${Act} label=${l.muted ? 'unmute' : 'mute'} test=${`${l.muted ? 'unmute' : 'mute'}-${l.id}`} run=${() => act(l.muted ? 'unmute' : 'mute', { leg: l.id })} onError=${props.onError} />`;
  return html`<article class="card call" data-test="call" data-call-id=${c.id}>
    <header>
      <div>
        <strong class="from">${c.from}</strong> → <strong class="to">${c.to}</strong>
        <div class="meta">
          <span>flow <b data-test="flow">${c.flow ?? '—'}</b></span>
          <span>rule <b data-test="rule">${c.rule ?? '—'}</b></span>
          ${props.rooms.map((r) => html`<span>in room <b data-test="in-room">${r}</b></span>`)}
          <span>${age(c.startedAt)}</span>
          <span class="callid" title="Call-ID">${c.id}</span>
        </div>
      </div>
      <${RecBadge} rec=${rec} />
    </header>
    <ul class="legs">${c.legs.map((l) => html`<${Leg} key=${l.id} leg=${l} actions=${legActions(l)} />`)}</ul>
    <footer>
      <div class="rec-actions">
        ${!recording ? html`<${Act} label="record" test="rec-start" run=${() => act('recording/start')} onError=${props.onError} />` : null}
        ${recording && !rec.paused ? html`<${Act} label="pause rec" test="rec-pause" run=${() => act('recording/pause')} onError=${props.onError} />` : null}
        ${recording && rec.paused ? html`<${Act} label="resume rec" test="rec-resume" run=${() => act('recording/resume')} onError=${props.onError} />` : null}
        ${recording && !rec.masked ? html`<${Act} label="mask" test="rec-mask" run=${() => act('recording/mask')} onError=${props.onError} />` : null}
        ${recording && rec.masked ? html`<${Act} label="unmask" test="rec-unmask" run=${() => act('recording/unmask')} onError=${props.onError} />` : null}
        ${recording ? html`<${Act} label="stop rec" test="rec-stop" run=${() => act('recording/stop')} onError=${props.onError} />` : null}
      </div>
      <${Act} label="hang up" test="hangup" danger=${true} run=${() => api('DELETE', `/calls/${id}`)} onError=${props.onError} />
    </footer>
  </article>`;
}

function RoomCard(props: { room: RoomView; onError: (m: string) => void }) {
  const r = props.room;
  const name = enc(r.name);
  const legActions = (l: LegView) => html`
    <${Act} label=${l.muted ? 'unmute' : 'mute'} test=${`${l.muted ? 'unmute' : 'mute'}-${l.id}`} run=${() => api('POST', `/rooms/${name}/legs/${enc(l.id)}/${l.muted ? 'unmute' : 'mute'}`)} onError=${props.onError} />
    <${Act} label="kick" test=${`kick-${l.id}`} danger=${true} run=${() => api('DELETE', `/rooms/${name}/legs/${enc(l.id)}`)} onError=${props.onError} />`;
  return html`<article class="card room" data-test="room" data-room=${r.name}>
    <header><div><strong>room ${r.name}</strong><div class="meta"><span>${r.legs.length} in the roster</span></div></div></header>
    <ul class="legs">${r.legs.map((l) => html`<${Leg} key=${l.id} leg=${l} actions=${legActions(l)} />`)}</ul>
    <footer>
      <${Supervision} room=${r.name} legs=${r.legs} onError=${props.onError} />
      <${Act} label="close room" test="close-room" danger=${true} run=${() => api('DELETE', `/rooms/${name}`)} onError=${props.onError} />
    </footer>
  </article>`;
}

export function LiveView(props: LiveProps) {
  const [error, setError] = useState<string | null>(null);
  const s = props.state;
  const calls = Object.values(s.calls).sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const rooms = Object.values(s.rooms).sort((a, b) => a.name.localeCompare(b.name));
  return html`<section class="live">
    ${error ? html`<p class="error" role="alert" onClick=${() => setError(null)}>${error}</p>` : null}
    <h2>Calls <span class="count" data-test="call-count">${calls.length}</span></h2>
    ${calls.length === 0 ? html`<p class="empty">No call in progress.</p>` : null}
    <div class="cards">${calls.map((c) => html`<${CallCard} key=${c.id} call=${c} rec=${recordingOf(s, c)} rooms=${rooms.filter((r) => r.legs.some((l) => l.callId === c.id)).map((r) => r.name)} refresh=${props.refresh} onError=${setError} />`)}</div>
    <h2>Rooms <span class="count">${rooms.length}</span></h2>
    ${rooms.length === 0 ? html`<p class="empty">No conference room open.</p>` : null}
    <div class="cards">${rooms.map((r) => html`<${RoomCard} key=${r.name} room=${r} onError=${setError} />`)}</div>
    ${s.ended.length > 0
      ? html`<h2>Ended</h2><table class="ended"><tbody>${s.ended.map((e) => html`<tr data-test="ended" data-call-id=${e.id}><td>${new Date(e.at).toLocaleTimeString()}</td><td>${e.from} → ${e.to}</td><td>${e.reason}</td></tr>`)}</tbody></table>`
      : null}
  </section>`;
}
