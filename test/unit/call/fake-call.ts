// A CallPort for unit tests: records what the tasks asked for and lets the test
// press keys, end the call and decide how bridges and prompts turn out.
import type {
  BridgeOptions,
  BridgeTarget,
  BridgeOutcome,
  CallEvents,
  CallPort,
  ConferenceJoinOptions,
  NameAddr,
  PlayHandle,
  PlayResultReason,
  PlaySpec,
  RecordingHandle,
  RecordingOptions,
} from '../../../src/call/ports.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { TypedEmitter } from '../../../src/util/typed-emitter.ts';

export class FakeCall extends TypedEmitter<CallEvents> implements CallPort {
  readonly callId = 'fake-call-1';
  readonly log = silentLogger();
  readonly originalTo: NameAddr = { uri: 'sip:bob@example.com', displayName: 'Bob', params: {} };
  readonly from: NameAddr = { uri: 'sip:alice@example.com', displayName: 'Alice', params: {} };
  requestUri = 'sip:bob@example.com';
  bridgeTarget: BridgeTarget = 'to';
  answered = false;
  ended = false;
  readonly actions: string[] = [];
  /** How long a prompt plays, in ms; a prompt named in `failing` ends with 'error'. */
  promptMs = 5;
  /** Per-prompt durations that override promptMs. */
  readonly durations = new Map<string, number>();
  failing = new Set<string>();
  bridgeResult: () => BridgeOutcome = () => ({ kind: 'answered', legId: 'b', ended: Promise.resolve('callee') });
  readonly playing = new Set<() => void>();
  /** How each prompt finished, in order: 'done' (played to its end), 'stopped', 'error'. */
  readonly playResults: PlayResultReason[] = [];

  answer(options: { early?: boolean } = {}): Promise<void> {
    this.actions.push(options.early ? 'answer early' : 'answer');
    if (!options.early) this.answered = true;
    return Promise.resolve();
  }

  /** How many flow steps wait for digits now (wantDigits not yet released). */
  digitWanters = 0;

  wantDigits(): () => void {
    this.digitWanters++;
    let released = false;
    return () => {
      if (!released) this.digitWanters--;
      released = true;
    };
  }

  hangup(status?: number, reason?: string): void {
    if (this.ended) return;
    this.actions.push(this.answered ? 'bye' : `reject ${status ?? 480}${reason ? ' ' + reason : ''}`);
    this.end('local');
  }

  end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.safeEmit('ended', reason);
  }

  /** digitWanters at each press(): a key pressed while no step wants digits would not be detected in-band. */
  readonly wantedAtPress: number[] = [];

  press(digits: string): void {
    this.wantedAtPress.push(this.digitWanters);
    for (const d of digits) this.safeEmit('dtmf', d, 100);
  }

  play(spec: PlaySpec, options: { target: 'caller' | 'room'; bargeIn: boolean; notice?: boolean }): PlayHandle {
    const what = spec.prompt ?? spec.text ?? spec.tone ?? '?';
    this.actions.push(`play ${what}${options.target === 'room' ? ' (room)' : ''}${options.notice ? ' (notice)' : ''}`);
    let finish!: (r: { reason: PlayResultReason; error?: Error }) => void;
    const finished = new Promise<{ reason: PlayResultReason; error?: Error }>((r) => (finish = r));
    let timer: NodeJS.Timeout | null = null;
    const done = (reason: PlayResultReason, error?: Error): void => {
      if (timer) clearTimeout(timer);
      timer = null;
      this.playing.delete(stop);
      this.playResults.push(reason);
      finish(error ? { reason, error } : { reason });
    };
    const stop = (): void => done('stopped');
    this.playing.add(stop);
    if (this.failing.has(what)) setImmediate(() => done('error', new Error(`prompt '${what}' not found`)));
    else timer = setTimeout(() => done('done'), this.durations.get(what) ?? this.promptMs);
    return { finished, stop };
  }

  startRecording(options: RecordingOptions): Promise<RecordingHandle> {
    this.actions.push(`record start${options.stereo ? ' stereo' : ''}`);
    const a = this.actions;
    return Promise.resolve({
      id: 'rec-1',
      pause: () => a.push('record pause'),
      resume: () => a.push('record resume'),
      mask: (on: boolean) => a.push(`record mask ${on}`),
      stop: () => {
        a.push('record stop');
        return Promise.resolve('/tmp/rec-1.json');
      },
      notice: (prompt: string) => a.push(`notice ${prompt}`),
    });
  }

  bridge(options: BridgeOptions): Promise<BridgeOutcome> {
    this.actions.push(`bridge ${options.to ?? this.originalTo.uri}${options.whisper ? ' whisper ' + (options.whisper.prompt ?? '') : ''}`);
    return Promise.resolve(this.bridgeResult());
  }

  joinConference(options: ConferenceJoinOptions): Promise<{ left: Promise<string> }> {
    this.actions.push(`conference ${options.room} ${options.identity}`);
    return Promise.resolve({ left: new Promise((r) => this.once('ended', r)) });
  }

  transfer(target: string): Promise<void> {
    this.actions.push(`transfer ${target}`);
    return Promise.resolve();
  }
}
