// Listen in, whisper, barge: the console joins a conference room from the
// browser through the browser-participant API (POST /rooms/:name/webrtc, the
// README's "Browsers in rooms"), using the ES module Parley serves for it,
// /webrtc/assets/webrtc-client.js (mediasoup-client inside), loaded only when a
// supervisor uses it. Its requests carry the session cookie; being same-origin
// POSTs they carry the console's Origin, which is what the API checks.
// listen: hears the room, heard by nobody; whisper: heard by one leg only;
// barge: a participant like any other.
export type SuperviseMode = 'listen' | 'whisper' | 'barge';

export interface SupervisionHandle {
  mode: SuperviseMode;
  room: string;
  leg?: string;
  /** Resolves when it ends, stopped here or dropped (the connection failed or closed): why. */
  ended: Promise<string>;
  stop(): Promise<void>;
}

interface ClientSession {
  remoteStream: MediaStream;
  onClose: ((why: string) => void) | null;
  leave(): Promise<void>;
}
interface ClientModule {
  joinRoom(o: { room: string; role: string; targetLegId?: string; microphone?: MediaStream; displayName?: string }): Promise<ClientSession>;
}

const CLIENT = '/webrtc/assets/webrtc-client.js';
let available: boolean | null = null;
let client: Promise<ClientModule> | null = null;

/** Whether this Parley serves the browser-participant module (checked once). */
export async function checkSupervisor(): Promise<boolean> {
  if (available === null) {
    try {
      available = (await fetch(CLIENT, { method: 'HEAD' })).ok;
    } catch {
      available = false;
    }
  }
  return available;
}

export function supervisorAvailable(): boolean {
  return available === true;
}

export async function supervise(room: string, mode: SuperviseMode, leg?: string): Promise<SupervisionHandle> {
  if (!(await checkSupervisor())) throw new Error('listen-in, whisper and barge need the browser-participant module (/webrtc/assets/webrtc-client.js), which this Parley does not serve');
  // A variable, so that the bundler leaves the import to the browser.
  const url = CLIENT;
  client ??= import(/* @vite-ignore */ url) as Promise<ClientModule>;
  const { joinRoom } = await client;
  const microphone = mode === 'listen' ? undefined : await navigator.mediaDevices.getUserMedia({ audio: true });
  let session: ClientSession;
  try {
    session = await joinRoom({ room, role: mode, targetLegId: mode === 'whisper' ? leg : undefined, microphone, displayName: mode === 'barge' ? 'supervisor' : undefined });
  } catch (err) {
    microphone?.getTracks().forEach((t) => t.stop());
    throw err;
  }
  const audio = document.createElement('audio');
  audio.autoplay = true;
  audio.srcObject = session.remoteStream;
  audio.dataset.test = 'supervise-audio';
  document.body.append(audio);
  audio.play().catch(() => undefined);
  let stopped = false;
  let resolveEnded!: (why: string) => void;
  const ended = new Promise<string>((r) => (resolveEnded = r));
  const finish = async (why: string): Promise<void> => {
    if (stopped) return;
    stopped = true;
    audio.remove();
    microphone?.getTracks().forEach((t) => t.stop());
    resolveEnded(why);
    await session.leave();
  };
  session.onClose = (why) => void finish(`the connection ${why}`);
  return { mode, room, leg, ended, stop: () => finish('stopped') };
}
