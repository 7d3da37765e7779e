// Recordings: a searchable list (GET /recordings) and a player for one of them:
// the mixed WAV decoded in the page (WebAudio) into a waveform with the notice,
// pauses and masks of its sidecar marked, and its verification state.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, apiBytes, ApiFailure, enc, whenUnauthorizedNow } from './api.ts';
import { marksOf, peaks, type Mark, type Peaks } from './peaks.ts';
import { draw, MARK_COLOURS } from './waveform.ts';

interface RecordingRow {
  id: string;
  room: string;
  state: string;
  startedAt: string;
  endedAt: string | null;
  durationMs: number;
  legs: { id: string; uri: string | null; originalTo: string | null; role: string }[];
  /** Where the recordings index has them (recording compliance): the flow and rule, a legal hold. */
  flow?: string | null;
  rule?: string | null;
  held?: boolean;
}

/** One page of GET /recordings: an array; where the API pages (recordings index), X-Next-Cursor names the next one. */
async function listPage(params: URLSearchParams): Promise<{ rows: RecordingRow[]; next: string | null }> {
  const res = await fetch(`/recordings?${params}`, { headers: { 'x-parley-console': '1' }, credentials: 'same-origin' });
  if (!res.ok) {
    const e = (await res.json().catch(() => ({}))) as { message?: string };
    throw new ApiFailure(res.status, 'error', e.message ?? `${res.status} ${res.statusText}`);
  }
  return { rows: (await res.json()) as RecordingRow[], next: res.headers.get('x-next-cursor') };
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function RecordingsView(props: { open: string | null }) {
  const [rows, setRows] = useState<RecordingRow[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [q, setQ] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  // The time filters go to the server too (a Parley with the recordings index filters there and pages); the
  // text search is done here, on what came back, as it matches parts of ids and URIs.
  const load = (cursor: string | null = null): void => {
    const params = new URLSearchParams({ limit: '500' });
    if (from) params.set('since', new Date(from).toISOString());
    if (to) params.set('until', new Date(to).toISOString());
    if (cursor) params.set('cursor', cursor);
    setError(null);
    listPage(params).then(
      (p) => {
        setRows((old) => (cursor ? [...(old ?? []), ...p.rows] : p.rows));
        setNext(p.next);
      },
      (e: Error) => {
        if (e instanceof ApiFailure && e.status === 401) whenUnauthorizedNow();
        setError(e.message);
      },
    );
  };
  useEffect(() => load(), []);
  const needle = q.trim().toLowerCase();
  const shown = (rows ?? []).filter((r) => {
    if (from && r.startedAt < new Date(from).toISOString()) return false;
    if (to && r.startedAt > new Date(to).toISOString()) return false;
    if (!needle) return true;
    const hay = [r.id, r.room, ...r.legs.flatMap((l) => [l.uri ?? '', l.originalTo ?? ''])].join(' ').toLowerCase();
    return hay.includes(needle);
  });
  return html`<section class="recordings">
    ${props.open ? html`<${Player} key=${props.open} id=${props.open} />` : null}
    <h2>Recordings <span class="count">${rows ? shown.length : '…'}</span></h2>
    <form class="search" onSubmit=${(e: Event) => { e.preventDefault(); load(); }}>
      <input type="search" placeholder="room, party URI, id" value=${q} data-test="rec-search" onInput=${(e: Event) => setQ((e.target as HTMLInputElement).value)} />
      <label>from <input type="datetime-local" value=${from} onInput=${(e: Event) => setFrom((e.target as HTMLInputElement).value)} /></label>
      <label>to <input type="datetime-local" value=${to} onInput=${(e: Event) => setTo((e.target as HTMLInputElement).value)} /></label>
      <button type="submit">reload</button>
    </form>
    ${error ? html`<p class="error">${error}</p>` : null}
    <table class="list">
      <thead><tr><th>started</th><th>length</th><th>parties</th><th>flow</th><th>room</th><th>state</th></tr></thead>
      <tbody>
        ${shown.map(
          (r) => html`<tr data-test="recording" data-id=${r.id} class=${props.open === r.id ? 'selected' : ''}>
            <td><a href=${`#/recordings/${enc(r.id)}`}>${new Date(r.startedAt).toLocaleString()}</a></td>
            <td>${duration(r.durationMs)}</td>
            <td>${r.legs.map((l) => l.uri ?? l.id).join(', ')}</td>
            <td>${r.flow ?? ''}${r.rule ? html` <span class="badge">${r.rule}</span>` : null}</td>
            <td>${r.room}</td>
            <td>${r.state}${r.held ? html` <span class="badge">held</span>` : null}</td>
          </tr>`,
        )}
      </tbody>
    </table>
    ${next ? html`<p><button data-test="rec-more" onClick=${() => load(next)}>more</button></p>` : null}
  </section>`;
}

interface Meta {
  room: string;
  state: string;
  startedAt: string;
  durationMs: number;
  sampleRate: number;
  pauseMode: string;
  mix: { file: string; sha256: string | null; lost?: string };
  legs: { id: string; uri: string | null; role: string }[];
  notices: { fileMs: number; prompt: string; leg?: string }[];
  pauses: { reason: string | null; start: { fileMs: number }; end: { fileMs: number } | null }[];
  masks: { reason: string | null; start: { fileMs: number }; end: { fileMs: number } | null }[];
}

type Verification = { state: 'unavailable' } | { state: 'error'; message: string } | { state: 'done'; ok: boolean | null; detail: string };

async function verify(id: string): Promise<Verification> {
  try {
    const v = await api<Record<string, unknown>>('GET', `/recordings/${enc(id)}/verify`);
    const ok = typeof v.ok === 'boolean' ? v.ok : typeof v.verified === 'boolean' ? v.verified : typeof v.valid === 'boolean' ? v.valid : null;
    const detail = typeof v.state === 'string' ? v.state : typeof v.message === 'string' ? v.message : JSON.stringify(v).slice(0, 200);
    return { state: 'done', ok, detail };
  } catch (err) {
    // No such route in this Parley (404 "no route …"): verification is not part of it.
    if (err instanceof ApiFailure && err.status === 404 && err.message.startsWith('no route')) return { state: 'unavailable' };
    return { state: 'error', message: (err as Error).message };
  }
}

function Player(props: { id: string }) {
  const [meta, setMeta] = useState<Meta | null>(null);
  const [wave, setWave] = useState<Peaks | null>(null);
  const [src, setSrc] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [pos, setPos] = useState(0);
  const [verification, setVerification] = useState<Verification | null>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const marks: Mark[] = meta ? marksOf(meta) : [];

  useEffect(() => {
    let url: string | null = null;
    let gone = false;
    (async () => {
      const m = await api<Meta>('GET', `/recordings/${enc(props.id)}`);
      if (gone) return;
      setMeta(m);
      verify(props.id).then((v) => !gone && setVerification(v), () => undefined);
      if (m.mix.lost) throw new Error(`the mixed file is lost: ${m.mix.lost}`);
      const bytes = await apiBytes(`/recordings/${enc(props.id)}/files/${enc(m.mix.file)}`);
      if (gone) return;
      url = URL.createObjectURL(new Blob([bytes], { type: 'audio/wav' }));
      setSrc(url);
      const ctx = new AudioContext();
      try {
        const decoded = await ctx.decodeAudioData(bytes.slice(0));
        if (!gone) setWave(peaks(decoded.getChannelData(0), 800));
      } finally {
        await ctx.close();
      }
    })().catch((e: Error) => !gone && setError(e.message));
    return () => {
      gone = true;
      if (url) URL.revokeObjectURL(url);
    };
  }, [props.id]);

  useEffect(() => {
    if (canvas.current && wave && meta) draw(canvas.current, wave, meta.durationMs, marks, pos);
  });

  const seek = (e: MouseEvent): void => {
    const c = canvas.current;
    const a = audio.current;
    if (!c || !a || !meta) return;
    const r = c.getBoundingClientRect();
    a.currentTime = (((e.clientX - r.left) / r.width) * meta.durationMs) / 1000;
  };

  return html`<article class="card player" data-test="player" data-id=${props.id}>
    <header>
      <div>
        <strong>${meta ? meta.legs.map((l) => l.uri ?? l.id).join(' · ') : props.id}</strong>
        <div class="meta">
          ${meta ? html`<span>${new Date(meta.startedAt).toLocaleString()}</span><span>${duration(meta.durationMs)}</span><span>${meta.sampleRate} Hz</span><span>pauses: ${meta.pauseMode}</span><span>${meta.state}</span>` : null}
          <span class="callid">${props.id}</span>
        </div>
      </div>
      <${VerifyBadge} v=${verification} />
    </header>
    ${error ? html`<p class="error">${error}</p>` : null}
    <canvas ref=${canvas} width="1600" height="180" class="wave" data-test="waveform" data-ready=${wave ? '1' : '0'} onClick=${seek}></canvas>
    <audio ref=${audio} controls src=${src ?? undefined} data-test="audio" onTimeUpdate=${(e: Event) => setPos((e.target as HTMLAudioElement).currentTime * 1000)}></audio>
    <ul class="marks" data-test="marks">
      ${marks.length === 0 ? html`<li class="empty">no notice, pause or mask</li>` : null}
      ${marks.map(
        (m) => html`<li data-test=${`mark-${m.kind}`}><span class="swatch" style=${{ background: MARK_COLOURS[m.kind] }}></span>${m.label} at ${(m.fromMs / 1000).toFixed(1)} s${markSpan(m)}</li>`,
      )}
    </ul>
  </article>`;
}

/** How long a mark lasts in the file: a pause in `skip` mode left its time out of it. */
function markSpan(m: Mark): string {
  if (m.toMs > m.fromMs) return ` for ${((m.toMs - m.fromMs) / 1000).toFixed(1)} s`;
  return m.kind === 'notice' ? '' : ' (its time left out of the file)';
}

function VerifyBadge(props: { v: Verification | null }) {
  const v = props.v;
  if (!v) return html`<span class="verify" data-test="verify">verifying…</span>`;
  if (v.state === 'unavailable') return html`<span class="verify off" data-test="verify" title="GET /recordings/:id/verify is not in this Parley">verification not available</span>`;
  if (v.state === 'error') return html`<span class="verify bad" data-test="verify">verification failed: ${v.message}</span>`;
  return html`<span class=${`verify ${v.ok === false ? 'bad' : v.ok ? 'good' : ''}`} data-test="verify">${v.ok === false ? '✗' : v.ok ? '✓' : '?'} ${v.detail}</span>`;
}
