/** Every name saved with core.saveState, read back by the post step (STATE_<name>). */
export const State = {
  IsPost: 'isPost',
  /** The private temp dir with the key: saved before the key is written. */
  SshDir: 'sshDir',
  /** JSON: which hosts still hold our deploy lock, so a cancelled run's post step can release it. */
  Locks: 'locks',
} as const

export interface LockState {
  target: string
  linkName: string
  token: string
  hosts: number[]
  /** The release a deploy/activate makes live and its upload dir, for the post step's recover. */
  releaseId?: string
  incoming?: string
}
