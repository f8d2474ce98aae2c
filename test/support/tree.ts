/** A server tree written down so that a test can say it is the same, to the byte and the inode, afterwards. */
import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import path from 'node:path'

/** Every entry under dir: type, mode, owner, size, mtime, inode, link target, content hash. */
export function treeSnapshot(dir: string): string[] {
  const out: string[] = []
  const walk = (p: string) => {
    const st = lstatSync(p)
    const what = st.isSymbolicLink()
      ? `-> ${readlinkSync(p)}`
      : st.isFile()
        ? createHash('sha256').update(readFileSync(p)).digest('hex')
        : ''
    out.push(`${path.relative(dir, p)} ${st.mode} ${st.uid} ${st.size} ${st.mtimeMs} ${st.ino} ${what}`)
    if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(path.join(p, n))
  }
  walk(dir)
  return out
}
