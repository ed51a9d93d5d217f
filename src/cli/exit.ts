/**
 * Ends a command with an exit code other than 0 without a stack trace: the
 * command has already said what happened (or says it in `message`, which the
 * CLI prints as `inrscape: <message>`).
 */
export class CommandExit extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
    this.name = 'CommandExit';
  }
}
