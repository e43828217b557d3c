/**
 * `resolution storage import <dir|s3://…>` and `storage export <dir>`: the bytes of a moved
 * Supabase project, for the `storage.objects` rows `db restore` kept (src/storage/transfer.ts).
 * A progress line on stderr when it is a terminal, a summary on stdout, exit 1 when anything
 * failed or was missing (a rerun resumes).
 * @module
 */
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import { backendSource, backendTarget, folderSource, folderTarget, parseS3Url, s3Source, type TransferSource } from '../../storage/transfer-ends.ts'
import { transferObjects, type TransferSummary } from '../../storage/transfer.ts'
import type { DatabaseOption } from '../context.ts'
import { withStorage } from './storage-context.ts'

interface TransferCliOptions extends DatabaseOption {
  bucket?: string[]
  concurrency: string
}

interface ImportOptions extends TransferCliOptions {
  endpoint?: string
  region: string
  accessKeyId?: string
  secretAccessKey?: string
  forcePathStyle?: boolean
}

export function progressLine(stream: NodeJS.WriteStream): ((summary: Readonly<TransferSummary>) => void) | undefined {
  if (!stream.isTTY) return undefined
  return (s) => {
    const done = s.copied + s.skipped + s.missing + s.failed
    stream.write(`\r\x1b[K${done}/${s.total}  copied ${s.copied}  skipped ${s.skipped}  missing ${s.missing}  failed ${s.failed}`)
  }
}

function report(verb: string, summary: TransferSummary): void {
  if (process.stderr.isTTY) process.stderr.write('\n')
  for (const problem of summary.problems) process.stderr.write(`  ${problem}\n`)
  process.stdout.write(`storage ${verb}: ${summary.total} object(s): ${summary.copied} copied, ${summary.skipped} skipped, ${summary.missing} missing, ${summary.failed} failed\n`)
  if (summary.missing > 0 || summary.failed > 0) process.exitCode = 1
}

function concurrency(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1) throw new FatalError('--concurrency must be a whole number from 1 to 99')
  return Number(value)
}

async function importSource(from: string, options: ImportOptions): Promise<TransferSource & { close?(): void }> {
  if (!from.startsWith('s3://')) return folderSource(from)
  const credentials = options.accessKeyId || options.secretAccessKey ? { accessKeyId: options.accessKeyId ?? '', secretAccessKey: options.secretAccessKey ?? '' } : undefined
  if (options.endpoint !== undefined && !/^https?:\/\/\S+$/.test(options.endpoint)) throw new FatalError('--endpoint must be an http(s) URL')
  return s3Source({ ...parseS3Url(from), region: options.region, endpoint: options.endpoint, forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined, credentials })
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function registerStorageTransfer(storage: Command): void {
  storage
    .command('import')
    .argument('<from>', 'a folder laid out as <bucket>/<name> (what `supabase storage cp -r` downloads), s3:// (each bucket from the S3 bucket of its name, as Supabase Storage serves them) or s3://<bucket>[/<prefix>] (keys <prefix>/<bucket>/<name>)')
    .description("Copy the bytes of the storage.objects rows (kept by `db restore`) into this service's backend; resumable")
    .option('--endpoint <url>', 'S3 endpoint, e.g. https://<ref>.storage.supabase.co/storage/v1/s3')
    .option('--region <region>', 'S3 region', 'us-east-1')
    .option('--access-key-id <id>', 'S3 access key (default: the AWS credential chain)')
    .option('--secret-access-key <key>', 'S3 secret key (default: the AWS credential chain; prefer AWS_SECRET_ACCESS_KEY)')
    .option('--force-path-style', 'endpoint/bucket/key URLs (the default with --endpoint)')
    .option('--bucket <id>', 'only this bucket (repeatable)', collect)
    .option('--concurrency <n>', 'objects copied at once', '4')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .action(async (from: string, options: ImportOptions) => {
      const parallel = concurrency(options.concurrency)
      const source = await importSource(from, options)
      try {
        const summary = await withStorage(options, (_services, backend, database) =>
          transferObjects(database, source, backendTarget(backend), { buckets: options.bucket, concurrency: parallel, onProgress: progressLine(process.stderr) }),
        )
        report('import', summary)
      } finally {
        source.close?.()
      }
    })

  storage
    .command('export')
    .argument('<dir>', 'folder to write <bucket>/<name> files into (what `storage import <dir>` reads)')
    .description("Copy every object's bytes from this service's backend into a folder; resumable")
    .option('--bucket <id>', 'only this bucket (repeatable)', collect)
    .option('--concurrency <n>', 'objects copied at once', '4')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .action(async (dir: string, options: TransferCliOptions) => {
      const parallel = concurrency(options.concurrency)
      const summary = await withStorage(options, (_services, backend, database) =>
        transferObjects(database, backendSource(backend), folderTarget(dir), { buckets: options.bucket, concurrency: parallel, onProgress: progressLine(process.stderr) }),
      )
      report('export', summary)
    })
}
