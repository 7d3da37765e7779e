// The Parley web console: sign-in, live calls and rooms, recordings.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, enc, whenUnauthorized } from './api.ts';
import { EventStream } from './event-stream.ts';
import { LiveView } from './live-view.ts';
import { applyEvent, emptyState, fromSnapshot, refreshCall, type ApiEvent, type LiveState } from './live-state.ts';
import { RecordingsView } from './recordings-view.ts';
import { SignIn } from './sign-in.ts';
import { checkSupervisor } from './supervise.ts';

function route(): { view: 'live' | 'recordings'; id: string | null } {
  const h = location.hash.replace(/^#\/?/, '');
  if (h.startsWith('recordings')) {
    const id = h.split('/')[1];
    return { view: 'recordings', id: id ? decodeURIComponent(id) : null };
  }
  return { view: 'live', id: null };
}

/** The live state: a snapshot, then the event stream from the seq taken before it (replays are harmless). */
function useLive(active: boolean): { state: LiveState; connected: boolean; refresh: (id: string) => Promise<void> } {
  const [state, setState] = useState<LiveState>(emptyState);
  const [connected, setConnected] = useState(false);
  const stream = useRef<EventStream | null>(null);

  const start = useCallback(async (): Promise<void> => {
    stream.current?.close();
    const recent = await api<{ lastSeq: number; events: ApiEvent[] }>('GET', '/events/recent');
    const [calls, rooms] = await Promise.all([api<unknown[]>('GET', '/calls'), api<unknown[]>('GET', '/rooms')]);
    // Events after `recent` may already be in the snapshot: applying them again changes nothing.
    setState(fromSnapshot(calls, rooms, recent.events, recent.lastSeq));
    stream.current = new EventStream(recent.lastSeq, {
      event: (e) => setState((s) => applyEvent(s, e)),
      gap: () => void start().catch(() => undefined),
      status: (up) => {
        setConnected(up);
        // A closed stream may be a session that ended: the check shows the sign-in on a 401.
        if (!up) api('GET', '/console/session').catch(() => undefined);
      },
    });
  }, []);

  useEffect(() => {
    if (!active) return undefined;
    start().catch(() => undefined);
    return () => stream.current?.close();
  }, [active, start]);

  const refresh = useCallback(async (id: string): Promise<void> => {
    const c = await api('GET', `/calls/${enc(id)}`).catch(() => null);
    if (c) setState((s) => refreshCall(s, c));
  }, []);
  return { state, connected, refresh };
}

function App() {
  const [signedIn, setSignedIn] = useState<boolean | null>(null);
  const [where, setWhere] = useState(route);
  useEffect(() => {
    whenUnauthorized(() => setSignedIn(false));
    // Before the first render of the live view: it shows listen/whisper/barge only when they can work.
    checkSupervisor()
      .catch(() => false)
      .then(() => api<{ session: unknown }>('GET', '/console/session'))
      .then(
        () => setSignedIn(true),
        () => setSignedIn(false),
      );
    const onHash = (): void => setWhere(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const live = useLive(signedIn === true);

  if (signedIn === null) return html`<main class="loading">…</main>`;
  if (!signedIn) return html`<${SignIn} onSignedIn=${() => setSignedIn(true)} />`;
  const signOut = async (): Promise<void> => {
    await api('DELETE', '/console/session').catch(() => undefined);
    setSignedIn(false);
  };
  return html`<div class="app">
    <nav>
      <span class="brand">Parley</span>
      <a href="#/live" class=${where.view === 'live' ? 'on' : ''} data-test="nav-live">Live</a>
      <a href="#/recordings" class=${where.view === 'recordings' ? 'on' : ''} data-test="nav-recordings">Recordings</a>
      <span class=${`conn ${live.connected ? 'up' : 'down'}`} data-test="stream-state">${live.connected ? 'live' : 'reconnecting…'}</span>
      <button class="signout" data-test="signout" onClick=${signOut}>Sign out</button>
    </nav>
    ${where.view === 'live'
      ? html`<${LiveView} state=${live.state} connected=${live.connected} refresh=${live.refresh} />`
      : html`<${RecordingsView} open=${where.id} />`}
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
