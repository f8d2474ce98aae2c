/**
 * Text from outside (what a server sends: replies, log fields, the lock's owner, hook output, a
 * login shell's words; names from a build) stays text. It never reaches a terminal as escape
 * sequences (colours, cursor moves, a window title, a hidden line) nor the runner as a workflow
 * command (`::add-mask::`, `::error::`, `::stop-commands::`): the runner reads a command from any
 * line that starts with `::` after white space, and it ends a line at `\n` or `\r`.
 */

/** Longest piece of one untrusted value we show (a hook's 300 MB line is cut, with its length said). */
export const MAX_SHOWN = 4096

// C0 controls, DEL, C1 controls (U+009B is a one-byte CSI on some terminals), the Unicode line and
// paragraph separators, and the bidi overrides that make a line read differently than it is.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g
const CONTROL_BUT_NL_TAB =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' }

function escapeChar(c: string): string {
  const named = NAMED[c]
  if (named) return named
  const code = c.charCodeAt(0)
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * THE escaping function for one untrusted value: one line, every control character shown as an
 * escape (`\n`, `\r`, `\e`, `\x07`, `\u202e`), cut to `max` characters (saying how much was cut).
 * Linear in the input; only the first `max` characters are examined.
 */
export function untrusted(text: string, max = MAX_SHOWN): string {
  const cut = text.length > max ? text.slice(0, max) : text
  const shown = cut.replace(CONTROL, escapeChar)
  return text.length > max ? `${shown}… (${text.length - max} more characters)` : shown
}

/** Several untrusted lines (a hook's stderr, a shell's words): each escaped, none empty at the end. */
export function untrustedLines(text: string, maxLines = 20, max = MAX_SHOWN): string[] {
  const lines = text.replace(/\n+$/, '').split('\n')
  return lines.slice(-maxLines).map((l) => untrusted(l, max))
}

/**
 * The last guard, at the front ends, for a whole message of ours (which may hold untrusted values
 * that an older path forgot to escape): our newlines stay, every other control character is
 * escaped, and neither a line that starts with `::` nor a `##[` anywhere can be read as a workflow
 * command.
 */
export function safeMessage(message: string): string {
  return (
    message
      .replace(CONTROL_BUT_NL_TAB, escapeChar)
      .split('\n')
      .map((l) => (/^\s*::/.test(l) ? `\\${l}` : l))
      // The runner also reads the older form `##[command]` anywhere in a line.
      .map((l) => l.replace(/##\[/g, '##\\['))
      .join('\n')
  )
}

/**
 * Splits a stream into lines in linear time however long a line gets: a chunk is scanned once, a
 * pending line is kept as pieces (never re-joined per chunk), and only its first `maxLine`
 * characters are kept (the rest is counted). `onLine` gets the kept text and how much was dropped.
 */
export class LineSplitter {
  private parts: string[] = []
  private kept = 0
  private dropped = 0

  constructor(
    private readonly onLine: (line: string, dropped: number) => void,
    private readonly maxLine = MAX_SHOWN,
  ) {}

  push(chunk: string): void {
    let start = 0
    for (;;) {
      const nl = chunk.indexOf('\n', start)
      if (nl < 0) {
        this.keep(chunk, start, chunk.length)
        return
      }
      this.keep(chunk, start, nl)
      this.flush()
      start = nl + 1
    }
  }

  /** The last line, when the stream ended without a newline. */
  end(): void {
    if (this.kept > 0 || this.dropped > 0) this.flush()
  }

  private keep(chunk: string, from: number, to: number): void {
    const room = this.maxLine - this.kept
    const take = Math.min(room, to - from)
    if (take > 0) {
      this.parts.push(chunk.slice(from, from + take))
      this.kept += take
    }
    this.dropped += to - from - take
  }

  private flush(): void {
    const line = this.parts.join('')
    const dropped = this.dropped
    this.parts = []
    this.kept = 0
    this.dropped = 0
    this.onLine(line, dropped)
  }
}

/** A line from a LineSplitter as shown: escaped, with what was cut said. */
export function shownLine(line: string, dropped: number): string {
  return `${untrusted(line, Number.MAX_SAFE_INTEGER)}${dropped > 0 ? `… (${dropped} more characters)` : ''}`
}
