// Text to speech with espeak-ng (Debian). The text goes in on stdin, never on
// the command line, so that no text can be taken for an option.
import { spawn } from 'node:child_process';
import { PromptError } from './errors.ts';

export const MAX_TTS_CHARS = 4000;

/** Speaks `text` with `voice` into a WAV at `out` (espeak-ng's native 22.05 kHz mono). */
export function speakToWav(text: string, voice: string, out: string, timeoutMs = 30_000): Promise<void> {
  if (text.trim().length === 0) return Promise.reject(new PromptError('TTS', 'text prompt is empty'));
  if (text.length > MAX_TTS_CHARS) {
    return Promise.reject(new PromptError('TTS', `text prompt longer than ${MAX_TTS_CHARS} characters`));
  }
  if (!/^[A-Za-z0-9_+-]{1,40}$/.test(voice)) {
    return Promise.reject(new PromptError('TTS', `voice '${voice}' is not a valid espeak-ng voice name`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn('espeak-ng', ['-v', voice, '-w', out, '--stdin'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PromptError('TTS', `espeak-ng could not run: ${err.message}`, undefined, { cause: err }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new PromptError('TTS', `espeak-ng failed (${signal ?? code}): ${stderr.trim().slice(0, 300)}`));
    });
    child.stdin.on('error', () => undefined); // a dead child is reported by 'close'
    child.stdin.end(text, 'utf8');
  });
}
