// A command-line failure with the exit code to leave with (the message is printed).
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}
