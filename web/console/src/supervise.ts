// Listen in, whisper, barge: the browser joins a room through mediasoup with the
// browser-participant API (POST /rooms/:name/webrtc, see the README's "Browser
// participants"). Listen: the browser hears the mix and is heard by no one;
// whisper: only one leg hears it; barge: a participant like any other.
export type SuperviseMode = 'listen' | 'whisper' | 'barge';

export interface SupervisionHandle {
  mode: SuperviseMode;
  room: string;
  leg?: string;
  stop(): Promise<void>;
}

export interface Supervisor {
  start(room: string, mode: SuperviseMode, leg?: string): Promise<SupervisionHandle>;
}

let supervisor: Supervisor | null = null;

/** The browser-participant module registers itself here when it is part of the build. */
export function provideSupervisor(s: Supervisor): void {
  supervisor = s;
}

export function supervisorAvailable(): boolean {
  return supervisor !== null;
}

export async function supervise(room: string, mode: SuperviseMode, leg?: string): Promise<SupervisionHandle> {
  if (!supervisor) throw new Error('listen-in, whisper and barge need the browser-participant module, which is not in this build');
  return supervisor.start(room, mode, leg);
}
