/** A failure a user can act on: what went wrong and what to do about it. */
export class DeployError extends Error {
  constructor(
    message: string,
    readonly hint = '',
    readonly code = 'failed',
  ) {
    super(message)
    this.name = 'DeployError'
  }

  override toString(): string {
    return this.hint ? `${this.message}\n${this.hint}` : this.message
  }
}

/** A value given to an input that we refuse before anything touches the network. */
export class InputError extends DeployError {
  constructor(
    readonly input: string,
    problem: string,
    fix: string,
  ) {
    super(`Input '${input}': ${problem}`, fix, 'bad-input')
    this.name = 'InputError'
  }
}
