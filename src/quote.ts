/** POSIX single-quoting: the only way a value reaches a remote shell script. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`
}

/** `NAME='value'` lines prepended to a constant remote script. Names are ours, values are quoted. */
export function shAssignments(vars: Record<string, string | number | boolean>): string {
  return Object.entries(vars)
    .map(([name, value]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`bad shell variable name ${name}`)
      return `${name}=${shQuote(String(value))}`
    })
    .join('\n')
}

/** Printable ASCII that stands for itself inside a single-quoted printf format: no ', \ or %. */
const PLAIN_BYTE = (b: number) => b >= 0x20 && b <= 0x7e && b !== 0x27 && b !== 0x5c && b !== 0x25

/** What PLAIN_BYTE refuses, as characters (astral ones whole: the u flag). */
const NOT_PLAIN = /[^\x20-\x24\x26\x28-\x5b\x5d-\x7e]/gu

/** Each byte as the printf format writes it: itself when plain, else `\\ooo`. */
const WIRE_BYTE = Array.from({ length: 256 }, (_, b) =>
  PLAIN_BYTE(b) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`,
)

/**
 * One `NAME=…` line per value, in a form both a plain `sh -s` and the gate (gate.ts) read: the
 * shell runs it, the gate parses it with `case` and never evaluates it. Printable ASCII without
 * `'` is `NAME='value'`; anything else is `NAME=$(printf 'FMT.'); NAME=${NAME%.}`, FMT being
 * printable bytes and `\ooo` octal escapes only (no `%`: printf sees no directive). The `.` keeps
 * a trailing newline that `$(…)` would strip. A NUL cannot be a shell value: refused.
 */
export function wireAssignment(name: string, value: string | number | boolean): string {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`bad shell variable name ${name}`)
  const v = String(value)
  if (/^[\x20-\x26\x28-\x7e]*$/.test(v)) return `${name}='${v}'`
  if (v.includes('\0')) throw new Error(`the value of ${name} holds a NUL byte`)
  // Only what is not plain is rewritten, each character as the octal escapes of its UTF-8 bytes
  // (a manifest of 10,000 files is ~1 MB: a byte at a time took a quarter of a second).
  let fmt = v.replace(NOT_PLAIN, (ch) => [...Buffer.from(ch, 'utf8')].map((b) => WIRE_BYTE[b]).join(''))
  // A leading - goes escaped too: bash's printf would take it for an option.
  if (fmt.startsWith('-')) fmt = `\\055${fmt.slice(1)}`
  return `${name}=$(printf '${fmt}.'); ${name}=\${${name}%.}`
}

/** Every value as a wire line (see wireAssignment), then the line that ends them. */
export function wireAssignments(vars: Record<string, string | number | boolean>): string {
  return [...Object.entries(vars).map(([n, v]) => wireAssignment(n, v)), WIRE_END].join('\n')
}

/** The line after the last value: the gate stops reading values there (plain sh runs `:`). */
export const WIRE_END = ': rad-values-end'
