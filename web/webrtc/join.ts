// The participant page (GET /webrtc/join/:room): asks for the microphone,
// joins the room through webrtc-client, plays what the room sends, shows the
// roster. Settings come from the URL fragment, which browsers never send to a
// server: #token=…&role=participant|barge|whisper|listen&target=<leg>&name=<display name>
// &uri=<sip uri>&processing=off (no echo cancellation, gain control or noise
// suppression: for tests that measure levels). Without a token the API calls
// rely on the console's session cookie.
// `window.parley` exposes the session and its state to scripts and tests.
import { joinRoom, ParleyApiError, type WebRtcRole, type WebRtcSession } from './webrtc-client.ts';

interface PageState {
  state: 'starting' | 'live' | 'left' | 'error';
  error: { status: number; message: string } | null;
  session: WebRtcSession | null;
}

const page: PageState = { state: 'starting', error: null, session: null };
(window as unknown as { parley: PageState }).parley = page;

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const ROLES: readonly WebRtcRole[] = ['participant', 'barge', 'whisper', 'listen'];

function status(text: string, kind: '' | 'error' | 'live' = ''): void {
  const el = $('status');
  el.textContent = text;
  el.className = kind;
}

async function main(): Promise<void> {
  const room = decodeURIComponent(location.pathname.split('/').filter(Boolean).pop() ?? '');
  const args = new URLSearchParams(location.hash.replace(/^#/, ''));
  const token = args.get('token') ?? undefined;
  const roleArg = args.get('role') ?? 'participant';
  $('room').textContent = room;
  if (!ROLES.includes(roleArg as WebRtcRole)) throw new ParleyApiError(400, 'bad_request', `unknown role '${roleArg}'`);
  const role = roleArg as WebRtcRole;
  let microphone: MediaStream | undefined;
  if (role !== 'listen') {
    status('Asking for the microphone…');
    const raw = args.get('processing') === 'off';
    microphone = await navigator.mediaDevices.getUserMedia({
      audio: raw ? { echoCancellation: false, autoGainControl: false, noiseSuppression: false } : true,
    });
  }
  status('Joining…');
  const session = await joinRoom({
    room,
    role,
    token,
    microphone,
    targetLegId: args.get('target') ?? undefined,
    displayName: args.get('name') ?? undefined,
    uri: args.get('uri') ?? undefined,
  });
  page.session = session;
  const audio = $('remote') as HTMLAudioElement;
  audio.srcObject = session.remoteStream;
  await audio.play().catch(() => status('Click anywhere to hear the room', 'live'));
  document.addEventListener('click', () => void audio.play().catch(() => undefined), { once: true });
  page.state = 'live';
  status(`In the room as ${role}${role === 'whisper' ? ` to ${args.get('target')}` : ''}`, 'live');
  session.onClose = (why) => {
    page.state = 'left';
    status(`Disconnected (${why})`, 'error');
  };
  const mute = $('mute') as HTMLButtonElement;
  const leave = $('leave') as HTMLButtonElement;
  const track = microphone?.getAudioTracks()[0];
  mute.disabled = !track;
  mute.onclick = () => {
    if (!track) return;
    track.enabled = !track.enabled;
    mute.textContent = track.enabled ? 'Mute' : 'Unmute';
  };
  // A closed tab or a navigation leaves at once (else ICE consent, media.webrtc.timeoutSec, finds it gone).
  addEventListener('pagehide', () => {
    if (page.state === 'live') void session.leave();
  });
  leave.disabled = false;
  leave.onclick = () => {
    page.state = 'left';
    microphone?.getTracks().forEach((t) => t.stop());
    void session.leave().then(() => status('You left the room'));
  };
  void showRoster(room, token);
}

/** The roster, every 2 s while in the room. */
async function showRoster(room: string, token: string | undefined): Promise<void> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  while (page.state === 'live') {
    try {
      const res = await fetch(`/rooms/${encodeURIComponent(room)}`, { headers, credentials: 'same-origin' });
      if (res.ok) {
        const body = (await res.json()) as { roster: { leg: string; uri: string; displayName: string; talking: boolean; muted: boolean }[] };
        const list = $('roster');
        list.replaceChildren(
          ...body.roster.map((e) => {
            const li = document.createElement('li');
            li.textContent = `${e.displayName || e.uri}${e.leg === page.session?.legId ? ' (you)' : ''}${e.muted ? ' (muted)' : ''}`;
            if (e.talking) li.className = 'talking';
            return li;
          }),
        );
      }
    } catch {
      // The next round tries again.
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

main().catch((err: unknown) => {
  page.state = 'error';
  if (err instanceof ParleyApiError) {
    page.error = { status: err.status, message: err.message };
    if (err.status === 404) status(`This room does not exist (or has ended): ${err.message}`, 'error');
    else if (err.status === 401) status('Not signed in: open this page from the console, or with #token=… in its address', 'error');
    else status(`Could not join (${err.status}): ${err.message}`, 'error');
  } else {
    const e = err as Error;
    page.error = { status: 0, message: e.message ?? String(err) };
    status(`Could not join: ${page.error.message}`, 'error');
  }
});
