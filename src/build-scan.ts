import { type Dirent, readdirSync } from 'node:fs'
import path from 'node:path'
import { plural } from './format.js'

/**
 * The local build, looked at before the upload. rsync (without --specials/--devices) skips FIFOs,
 * sockets and device files without a word: the user should hear that they are not deployed.
 */

export interface SpecialFiles {
  /** How many there are in all. */
  count: number
  /** The first few, relative to the source, as `kind path`. */
  names: string[]
}

const KEEP = 10

/** What readdir or lstat says of an entry. */
type Kind = Pick<Dirent, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>

function kind(e: Kind): string {
  if (e.isFIFO()) return 'FIFO'
  if (e.isSocket()) return 'socket'
  if (e.isCharacterDevice()) return 'character device'
  if (e.isBlockDevice()) return 'block device'
  return ''
}

/** Counts `e` (at `rel`) in `found` when it is a FIFO, socket or device. */
export function noteSpecial(found: SpecialFiles, e: Kind, rel: string): void {
  const k = kind(e)
  if (!k) return
  found.count++
  if (found.names.length < KEEP) found.names.push(`${k} ${JSON.stringify(rel)}`)
}

/** Walks `source` (symlinks are not followed) and collects what is neither file, dir nor link. */
export function specialFiles(source: string): SpecialFiles {
  const found: SpecialFiles = { count: 0, names: [] }
  const stack = ['']
  while (stack.length > 0) {
    const rel = stack.pop() as string
    let entries: Dirent[]
    try {
      entries = readdirSync(path.join(source, rel), { withFileTypes: true })
    } catch {
      continue // rsync reports what it cannot read
    }
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name
      if (e.isDirectory()) stack.push(p)
      else noteSpecial(found, e, p)
    }
  }
  return found
}

/** One bounded warning; names are JSON-quoted, so a name with a newline or escape shows as text. */
export function specialFilesWarning(found: SpecialFiles): string {
  if (found.count === 0) return ''
  const more = found.count > found.names.length ? `, and ${found.count - found.names.length} more` : ''
  return `The build holds ${plural(found.count, 'special file')} that are not deployed (rsync skips FIFOs, sockets and devices): ${found.names.join(', ')}${more}. Remove them from the build if they are not meant to be there.`
}
