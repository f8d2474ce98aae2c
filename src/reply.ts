/**
 * A remote script's reply, read (see remote.ts for the scripts): pure, and small, so what only
 * reads replies does not load the scripts' text.
 */
import { untrusted } from './untrusted.js'

/** A reply line is cut here (a log line is at most LOG_MAX = 16384 characters, plus its prefix). */
const REPLY_LINE_MAX = 20_000

export interface ScriptReply {
  /** key → values, in order (a key such as `release` repeats). */
  values: Map<string, string[]>
  warnings: string[]
  error: { code: string; message: string } | undefined
  /** Everything else the server printed (hook output, a login banner…). */
  other: string[]
  ok: boolean
}

/**
 * Reads a script's stdout. Every line is untrusted text (the values carry the server's data), so
 * each is escaped here, once, for all later uses: no control character survives, no value is longer
 * than a bound. The scripts never put data at the start of a line (remote `reply` encodes newlines).
 */
export function parseReply(stdout: string): ScriptReply {
  const reply: ScriptReply = { values: new Map(), warnings: [], error: undefined, other: [], ok: false }
  for (const raw of stdout.split('\n')) {
    const line = untrusted(raw, REPLY_LINE_MAX)
    if (line.startsWith('@@rad-error ')) {
      const rest = line.slice('@@rad-error '.length)
      const sp = rest.indexOf(' ')
      reply.error = { code: sp < 0 ? rest : rest.slice(0, sp), message: sp < 0 ? '' : rest.slice(sp + 1) }
    } else if (line.startsWith('@@rad-warning ')) {
      reply.warnings.push(line.slice('@@rad-warning '.length))
    } else if (line.startsWith('@@rad ')) {
      const rest = line.slice('@@rad '.length)
      const sp = rest.indexOf(' ')
      const key = sp < 0 ? rest : rest.slice(0, sp)
      const value = sp < 0 ? '' : rest.slice(sp + 1)
      if (key === 'ok') reply.ok = true
      const list = reply.values.get(key) ?? []
      list.push(value)
      reply.values.set(key, list)
    } else if (line !== '') {
      reply.other.push(line)
    }
  }
  return reply
}

export function first(reply: ScriptReply, key: string): string {
  return reply.values.get(key)?.[0] ?? ''
}

export function all(reply: ScriptReply, key: string): string[] {
  return reply.values.get(key) ?? []
}
