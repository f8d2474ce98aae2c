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
