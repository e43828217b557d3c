/**
 * `resolution storage buckets|ls|cp|rm|import|export|sweep`: the operator's storage commands.
 * Remote paths are the Supabase CLI's: `ss:///<bucket>/<path>`. Everything acts as service_role
 * through src/storage/ (operator.ts, transfer.ts, sweep.ts), so rows and bytes stay consistent;
 * this module only parses arguments and prints.
 * @module
 */
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import type { Services } from '../../services.ts'
import type { StorageBackend } from '../../storage/backend/types.ts'
import { contentTypeOf } from '../../storage/content-types.ts'
import { allBuckets, isRemote, listPath, namesUnder, parseRemote, putObject, readObject, removeObjects, type RemotePath } from '../../storage/operator.ts'
import { sweepOrphans } from '../../storage/sweep.ts'
import type { DatabaseOption } from '../context.ts'
import { withStorage } from './storage-context.ts'
import { registerStorageTransfer } from './storage-transfer.ts'

const DATABASE_URL_HELP = 'PostgreSQL URL (overrides DATABASE_URL)'

const out = (line: string) => void process.stdout.write(`${line}\n`)

export function registerStorage(program: Command): void {
  const storage = program
    .command('storage')
    .description('Object storage of /storage/v1 as service_role: buckets, ls, cp, rm, import, export, sweep (paths: ss:///<bucket>/<path>)')
  registerBuckets(storage)
  registerLs(storage)
  registerCp(storage)
  registerRm(storage)
  registerStorageTransfer(storage)
  registerSweep(storage)
}

function registerBuckets(storage: Command): void {
  storage
    .command('buckets')
    .description('List the buckets: id, public or private, size limit, allowed mime types')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (options: DatabaseOption) => {
      const buckets = await withStorage(options, (services) => allBuckets(services))
      for (const bucket of buckets) {
        const limit = bucket.file_size_limit === null ? '-' : String(bucket.file_size_limit)
        out([bucket.id, bucket.public ? 'public' : 'private', limit, bucket.allowed_mime_types?.join(',') ?? '*'].join('\t'))
      }
    })
}

function registerLs(storage: Command): void {
  storage
    .command('ls')
    .argument('[path]', 'ss:///<bucket>[/<prefix>]; ss:/// lists the buckets', 'ss:///')
    .description('List objects one level under a prefix (folders end in /), or all under it with -r')
    .option('-r, --recursive', 'every object under the prefix, with its size')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (arg: string, options: DatabaseOption & { recursive?: boolean }) => {
      await withStorage(options, async (services) => {
        const remote = parseRemote(arg)
        if (remote.bucket === '') {
          for (const bucket of await allBuckets(services)) out(`${bucket.id}/`)
          return
        }
        for (const entry of await listPath(services, remote, Boolean(options.recursive))) {
          out(options.recursive ? `${entry.size ?? '-'}\t${entry.name}` : entry.name)
        }
      })
    })
}

interface CpOptions extends DatabaseOption {
  recursive?: boolean
  contentType?: string
  cacheControl: string
  overwrite: boolean
}

function registerCp(storage: Command): void {
  storage
    .command('cp')
    .argument('<src>', 'a local file (or folder with -r) or ss:///<bucket>/<path>')
    .argument('<dst>', 'ss:///<bucket>/<path> or a local path; a destination ending in / is a folder')
    .description('Copy a file to storage, from storage, or between storage paths (as service_role)')
    .option('-r, --recursive', 'copy a folder (upload) or everything under a prefix (download)')
    .option('--content-type <type>', 'content type of uploads (default: from the file extension)')
    .option('--cache-control <value>', 'Cache-Control of uploads', 'max-age=3600')
    .option('--no-overwrite', 'fail instead of replacing an object that exists')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (src: string, dst: string, options: CpOptions) => {
      if (!isRemote(src) && !isRemote(dst)) throw new FatalError('one of <src> and <dst> must be a storage path: ss:///<bucket>/<path>')
      await withStorage(options, async (services, backend) => {
        if (!isRemote(src)) return upload(services, backend, src, parseRemote(dst), options)
        if (!isRemote(dst)) return download(services, backend, parseRemote(src), dst, options)
        if (options.recursive) throw new FatalError('-r copies between the local disk and storage, not between two storage paths')
        const from = parseRemote(src)
        const to = intoFolder(parseRemote(dst), path.posix.basename(from.path))
        const { row, body } = await readObject(services, backend, from)
        await putObject(services, backend, to, body, { contentType: row.metadata?.mimetype ?? 'application/octet-stream', cacheControl: row.metadata?.cacheControl ?? options.cacheControl, upsert: options.overwrite })
        out(`copied ${src} => ss:///${to.bucket}/${to.path}`)
      })
    })
}

/** A remote destination that is a bucket or ends in `/` takes the source's base name. */
function intoFolder(remote: RemotePath, baseName: string): RemotePath {
  if (remote.bucket === '') throw new FatalError('the destination needs a bucket: ss:///<bucket>/<path>')
  return remote.path === '' || remote.path.endsWith('/') ? { bucket: remote.bucket, path: `${remote.path}${baseName}` } : remote
}

async function upload(services: Services, backend: StorageBackend, src: string, dst: RemotePath, options: CpOptions): Promise<void> {
  const info = await fs.stat(src).catch(() => undefined)
  if (!info) throw new FatalError(`${src}: no such file`)
  const putOne = async (file: string, to: RemotePath) => {
    await putObject(services, backend, to, createReadStream(file), { contentType: options.contentType ?? contentTypeOf(file), cacheControl: options.cacheControl, upsert: options.overwrite })
    out(`uploaded ${file} => ss:///${to.bucket}/${to.path}`)
  }
  if (!info.isDirectory()) return putOne(src, intoFolder(dst, path.basename(src)))
  if (!options.recursive) throw new FatalError(`${src} is a folder: use -r`)
  const base = dst.path === '' || dst.path.endsWith('/') ? dst.path : `${dst.path}/`
  const entries = await fs.readdir(src, { recursive: true, withFileTypes: true })
  for (const entry of entries.filter((e) => e.isFile()).sort((a, b) => path.join(a.parentPath, a.name).localeCompare(path.join(b.parentPath, b.name)))) {
    const file = path.join(entry.parentPath, entry.name)
    await putOne(file, { bucket: dst.bucket, path: base + path.relative(src, file).split(path.sep).join('/') })
  }
}

async function download(services: Services, backend: StorageBackend, src: RemotePath, dst: string, options: CpOptions): Promise<void> {
  if (src.bucket === '') throw new FatalError('the source needs a bucket: ss:///<bucket>/<path>')
  const getOne = async (remote: RemotePath, file: string) => {
    const { body } = await readObject(services, backend, remote)
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(file, body)
    out(`downloaded ss:///${remote.bucket}/${remote.path} => ${file}`)
  }
  if (!options.recursive) {
    const isFolder = dst.endsWith('/') || (await fs.stat(dst).catch(() => undefined))?.isDirectory()
    return getOne(src, isFolder ? path.join(dst, path.posix.basename(src.path)) : dst)
  }
  const prefix = src.path === '' || src.path.endsWith('/') ? src.path : `${src.path}/`
  // As the Supabase CLI: into an existing folder, the copy goes to a folder named after the source.
  const exists = (await fs.stat(dst).catch(() => undefined))?.isDirectory()
  const root = path.resolve(exists ? path.join(dst, path.posix.basename(prefix) || src.bucket) : dst)
  for (const name of await namesUnder(services, src.bucket, prefix)) {
    const file = path.join(root, ...name.slice(prefix.length).split('/'))
    // Names are S3 keys: `..` segments are legal there, but must not leave the folder here.
    if (!file.startsWith(root + path.sep)) throw new FatalError(`ss:///${src.bucket}/${name}: would be written outside ${dst}`)
    await getOne({ bucket: src.bucket, path: name }, file)
  }
}

function registerRm(storage: Command): void {
  storage
    .command('rm')
    .argument('<paths...>', 'ss:///<bucket>/<name> (with -r: every object under the prefix)')
    .description('Remove objects: their rows, then their bytes')
    .option('-r, --recursive', 'remove everything under each prefix')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (args: string[], options: DatabaseOption & { recursive?: boolean }) => {
      const remotes = args.map(parseRemote)
      if (remotes.some((remote) => remote.bucket === '' || (remote.path === '' && !options.recursive))) {
        throw new FatalError('each path needs a bucket and an object name (or -r for a whole prefix)')
      }
      let missing = 0
      await withStorage(options, async (services, backend) => {
        for (const remote of remotes) {
          const names = options.recursive ? await namesUnder(services, remote.bucket, remote.path) : [remote.path]
          const removed = names.length === 0 ? [] : await removeObjects(services, backend, remote.bucket, names)
          for (const name of removed) out(`removed ss:///${remote.bucket}/${name}`)
          if (removed.length === 0) {
            missing++
            process.stderr.write(`not found: ss:///${remote.bucket}/${remote.path}\n`)
          }
        }
      })
      if (missing > 0) process.exitCode = 1
    })
}

function registerSweep(storage: Command): void {
  storage
    .command('sweep')
    .description('Remove stored bytes that no storage.objects row points at (older than --older-than minutes)')
    .option('--older-than <minutes>', 'grace period for uploads in flight, minutes', '60')
    .option('--dry-run', 'count, remove nothing')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .action(async (options: DatabaseOption & { olderThan: string; dryRun?: boolean }) => {
      if (!/^\d{1,7}$/.test(options.olderThan)) throw new FatalError('--older-than must be a whole number of minutes')
      const report = await withStorage(options, (_services, backend, database) =>
        sweepOrphans(database, backend, { olderThanMs: Number(options.olderThan) * 60_000, dryRun: options.dryRun }),
      )
      const verb = options.dryRun ? 'would remove' : 'removed'
      out(`storage sweep: ${report.stored} stored item(s), ${report.orphans} orphan(s), ${verb} ${options.dryRun ? report.orphans : report.removed}`)
    })
}
