/** The disk chart (docs/disk-over-releases.svg), written by hand: no plotting dependency. */

function xmlEscape(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c)
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p
  return 10 * p
}

/** A hand-written line chart: cumulative MB on the server per release, one line per method. */
export function diskChart(
  series: { name: string; color: string; dash?: string; mb: number[] }[],
  subtitle: string,
): string {
  const W = 760
  const H = 440
  const L = 78
  const R = 200
  const T = 62
  const B = 58
  const pw = W - L - R
  const ph = H - T - B
  const n = Math.max(...series.map((s) => s.mb.length))
  const max = Math.max(1, ...series.flatMap((s) => s.mb))
  const step = niceStep(max / 6)
  const ymax = Math.ceil(max / step) * step
  const x = (i: number) => L + (n === 1 ? pw / 2 : (i * pw) / (n - 1))
  const y = (v: number) => T + ph - (v / ymax) * ph
  const out: string[] = []
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="13" role="img" aria-labelledby="title desc">`,
    '<title id="title">Disk used on the server over releases</title>',
    `<desc id="desc">${xmlEscape(series.map((s) => `${s.name}: ${s.mb.map((v) => v.toFixed(1)).join(', ')} MB`).join('; '))}</desc>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${L}" y="26" font-size="17" font-weight="600" fill="#1f2328">Disk used on the server, cumulative, after each release</text>`,
    `<text x="${L}" y="46" fill="#59636e">${xmlEscape(subtitle)}</text>`,
  )
  for (let v = 0; v <= ymax + 1e-9; v += step) {
    const yy = y(v).toFixed(1)
    out.push(
      `<line x1="${L}" y1="${yy}" x2="${L + pw}" y2="${yy}" stroke="${v === 0 ? '#59636e' : '#d1d9e0'}" stroke-width="1"/>`,
      `<text x="${L - 8}" y="${yy}" dy="4" text-anchor="end" fill="#59636e">${Number(v.toFixed(1))}</text>`,
    )
  }
  for (let i = 0; i < n; i++) {
    out.push(
      `<line x1="${x(i).toFixed(1)}" y1="${T + ph}" x2="${x(i).toFixed(1)}" y2="${T + ph + 5}" stroke="#59636e"/>`,
      `<text x="${x(i).toFixed(1)}" y="${T + ph + 20}" text-anchor="middle" fill="#59636e">${i + 1}</text>`,
    )
  }
  out.push(
    `<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle" fill="#1f2328">release</text>`,
    `<text transform="translate(20 ${T + ph / 2}) rotate(-90)" text-anchor="middle" fill="#1f2328">MB on disk (all releases kept)</text>`,
  )
  // Labels at the right end, pushed apart when two lines end close together.
  const ends = series.map((s) => ({ s, y: y(s.mb[s.mb.length - 1] ?? 0) })).sort((a, b) => a.y - b.y)
  for (let i = 1; i < ends.length; i++) {
    const prev = ends[i - 1] as { y: number }
    const cur = ends[i] as { y: number }
    if (cur.y - prev.y < 34) cur.y = prev.y + 34
  }
  // Lines in the given order (a dashed one drawn later stays visible over an equal solid one).
  for (const s of series) {
    const pts = s.mb.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')
    out.push(
      `<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="${s.dash ? 2.5 : 4}" stroke-linejoin="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    )
    for (let i = 0; i < s.mb.length; i++) {
      out.push(
        `<circle cx="${x(i).toFixed(1)}" cy="${y(s.mb[i] as number).toFixed(1)}" r="${s.dash ? 3 : 4.5}" fill="${s.color}"/>`,
      )
    }
  }
  for (const { s, y: ly } of ends) {
    const last = s.mb[s.mb.length - 1] ?? 0
    out.push(
      `<text x="${L + pw + 12}" y="${ly.toFixed(1)}" dy="-2" fill="${s.color}" font-weight="600">${xmlEscape(s.name)}</text>`,
      `<text x="${L + pw + 12}" y="${ly.toFixed(1)}" dy="14" fill="#59636e">${last.toFixed(1)} MB</text>`,
    )
  }
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
