// The one error type of playback: a play that cannot happen fails with a
// PromptError carrying a code the caller can branch on, never the process.
export type PromptErrorCode =
  | 'INVALID_NAME' // empty, NUL byte, not a string
  | 'ESCAPE' // absolute, `..`, or a symlink that leaves the prompts folder
  | 'NOT_FOUND'
  | 'UNREADABLE' // exists but cannot be read or parsed
  | 'TRANSCODE' // ffmpeg failed
  | 'TTS' // espeak-ng failed or the text is unusable
  | 'CLOSED'; // the library was closed

export class PromptError extends Error {
  constructor(
    readonly code: PromptErrorCode,
    message: string,
    readonly prompt?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PromptError';
  }
}
