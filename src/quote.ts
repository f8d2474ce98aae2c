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
  const bytes = Buffer.from(v, 'utf8')
  if (bytes.includes(0)) throw new Error(`the value of ${name} holds a NUL byte`)
  let fmt = ''
  // A leading - goes escaped too: bash's printf would take it for an option.
  bytes.forEach((b, i) => {
    fmt +=
      PLAIN_BYTE(b) && !(i === 0 && b === 0x2d)
        ? String.fromCharCode(b)
        : `\\${b.toString(8).padStart(3, '0')}`
  })
  return `${name}=$(printf '${fmt}.'); ${name}=\${${name}%.}`
}

/** Every value as a wire line (see wireAssignment), then the line that ends them. */
export function wireAssignments(vars: Record<string, string | number | boolean>): string {
  return [...Object.entries(vars).map(([n, v]) => wireAssignment(n, v)), WIRE_END].join('\n')
}

/** The line after the last value: the gate stops reading values there (plain sh runs `:`). */
export const WIRE_END = ': rad-values-end'
