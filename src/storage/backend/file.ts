/**
 * The local file-system backend. Bytes go to `<root>/.staging/<random>` first and are renamed
 * into place on commit (same file system, so the rename is atomic): a failed or killed upload
 * leaves at most a staging file, never a half object at its key.
 *
 * Key → path: every `/`-separated segment is escaped so that the result is plain ASCII from
 * `[A-Za-z0-9._-]` and `%XX`, never `.`/`..`, never empty, at most 240 bytes (longer ones keep a
 * readable head and a hash). The version file is `@<version>` — `@` is always escaped in
 * segments, so an object `a` (dir `a/`, file `a/@v1`) and an object `a/b` never collide.
 * @module
 */
import { createHash, randomUUID } from 'node:crypto'
import { constants as fsConstants, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { meter } from './meter.ts'
import type { ByteRange, ObjectStat, StagedObject, StorageBackend, StoredItem } from './types.ts'

const STAGING = '.staging'
const MAX_SEGMENT = 240

/** One key segment as a safe file name (see the module comment). */
export function fileSegment(segment: string): string {
  if (segment === '') return '%'
  let out = ''
  for (const byte of Buffer.from(segment, 'utf8')) {
    const char = String.fromCharCode(byte)
    out += /[A-Za-z0-9_-]/.test(char) || (char === '.' && out !== '') ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  if (out.length <= MAX_SEGMENT) return out
  return `${out.slice(0, 200)}~${createHash('sha256').update(segment).digest('hex').slice(0, 32)}`
}

/** `fileSegment`'s inverse; undefined for a hashed (too long) segment, whose name cannot be read back. */
function segmentName(file: string): string | undefined {
  if (file === '%') return ''
  if (file.includes('~')) return undefined
  const bytes: number[] = []
  for (let i = 0; i < file.length; i++) {
    if (file[i] === '%') {
      bytes.push(parseInt(file.slice(i + 1, i + 3), 16))
      i += 2
    } else bytes.push(file.charCodeAt(i))
  }
  return Buffer.from(bytes).toString('utf8')
}

/** The key stored at `location` under `root` (`filePath`'s inverse), checked by mapping it back. */
export function fileKeyAt(root: string, location: string): string | undefined {
  const parts = path.relative(root, location).split(path.sep)
  const version = parts.pop()
  if (parts.length < 2 || !version?.startsWith('@')) return undefined
  const names = [...parts, version.slice(1)].map(segmentName)
  if (names.some((name) => name === undefined)) return undefined
  const key = names.join('/')
  try {
    return filePath(root, key) === location ? key : undefined
  } catch {
    return undefined
  }
}

/** Every file under `dir`, one folder open at a time (a folder gone meanwhile is skipped). */
async function* walkFiles(dir: string): AsyncIterable<string> {
  const folder = await fs.opendir(dir).catch((error: unknown) => {
    if (isMissing(error)) return undefined
    throw error
  })
  if (!folder) return
  for await (const entry of folder) {
    const location = path.join(dir, entry.name)
    if (entry.isDirectory()) yield* walkFiles(location)
    else if (entry.isFile()) yield location
  }
}

/** Where `key` (`bucket/…name…/version`) lives under `root`; always inside it. */
export function filePath(root: string, key: string): string {
  const parts = key.split('/')
  if (parts.length < 3) throw new Error(`storage key without bucket, name and version: ${JSON.stringify(key)}`)
  const version = parts.pop()!
  const resolved = path.join(root, ...parts.map(fileSegment), `@${fileSegment(version)}`)
  // The escaping already makes this impossible; the check keeps it so if the escaping changes.
  if (!resolved.startsWith(path.resolve(root) + path.sep)) throw new Error('storage key escapes the root')
  return resolved
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/** Renames the file `from` (on the same file system, under `root`) to `key`'s place: a commit. */
export async function placeFile(root: string, from: string, key: string): Promise<void> {
  const target = filePath(path.resolve(root), key)
  // A concurrent delete may prune the folder between mkdir and rename: make it again, once.
  for (let attempt = 0; ; attempt++) {
    await fs.mkdir(path.dirname(target), { recursive: true })
    try {
      return await fs.rename(from, target)
    } catch (error) {
      if (attempt > 0 || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}

export function createFileBackend(root: string): StorageBackend {
  const base = path.resolve(root)
  const staging = path.join(base, STAGING)

  const place = (from: string, key: string) => placeFile(base, from, key)

  return {
    kind: 'file',

    async stage(_key, body, { maxBytes, tooLarge }): Promise<StagedObject> {
      await fs.mkdir(staging, { recursive: true })
      const temp = path.join(staging, randomUUID())
      const counter = meter(maxBytes, tooLarge)
      try {
        await pipeline(body, counter, createWriteStream(temp, { flags: 'wx' }))
      } catch (error) {
        await fs.rm(temp, { force: true })
        throw error
      }
      const etag = counter.md5()
      let settled = false
      return {
        size: counter.bytes,
        etag,
        async commit() {
          settled = true
          await place(temp, _key)
        },
        async discard() {
          if (settled) return
          settled = true
          await fs.rm(temp, { force: true })
        },
      }
    },

    async read(key, range?: ByteRange): Promise<Readable | undefined> {
      const file = filePath(base, key)
      const handle = await fs.open(file, 'r').catch((error: unknown) => {
        if (isMissing(error)) return undefined
        throw error
      })
      if (!handle) return undefined
      // Larger reads than the 64 KiB default: fewer chunks through the web-stream bridge and the socket.
      return handle.createReadStream({ start: range?.start, end: range?.end, highWaterMark: 1024 * 1024 })
    },

    async stat(key): Promise<ObjectStat | undefined> {
      try {
        const info = await fs.stat(filePath(base, key))
        return { size: info.size, lastModified: info.mtime }
      } catch (error) {
        if (isMissing(error)) return undefined
        throw error
      }
    },

    async remove(keys) {
      await removeFiles(base, keys.map((key) => filePath(base, key)))
    },

    locate: (key) => filePath(base, key),

    keyAt: (location) => (location.startsWith(staging + path.sep) ? undefined : fileKeyAt(base, location)),

    async *listStored(): AsyncIterable<StoredItem> {
      for await (const location of walkFiles(base)) {
        const info = await fs.stat(location).catch(() => undefined)
        if (info) yield { location, lastModified: info.mtime }
      }
    },

    async removeStored(locations) {
      await removeFiles(base, locations.filter((location) => location.startsWith(base + path.sep)))
    },

    async copy(fromKey, toKey) {
      await fs.mkdir(staging, { recursive: true })
      const temp = path.join(staging, randomUUID())
      try {
        // A copy-on-write clone where the file system has them (btrfs, XFS, APFS), else a plain copy.
        await fs.copyFile(filePath(base, fromKey), temp, fsConstants.COPYFILE_FICLONE)
        await place(temp, toKey)
      } catch (error) {
        await fs.rm(temp, { force: true })
        throw error
      }
    },
  }
}

async function removeFiles(root: string, files: readonly string[]): Promise<void> {
  for (const file of files) {
    await fs.rm(file, { force: true })
    await pruneEmptyDirs(path.dirname(file), root)
  }
}

/** Removes now-empty folders from `dir` up to (not including) `root`, so deleted names leave no trail. */
async function pruneEmptyDirs(dir: string, root: string): Promise<void> {
  let current = dir
  while (current.startsWith(root + path.sep)) {
    try {
      await fs.rmdir(current)
    } catch {
      return // not empty (or gone): stop
    }
    current = path.dirname(current)
  }
}
