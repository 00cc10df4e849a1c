// Child process of scripts/bench.mjs: uploads one image with the action's compiled uploader
// and prints a JSON line with the result and its own peak RSS (VmHWM).
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { join } from 'node:path'

const [buildDir, imagePath, blobUrl, concurrency] = process.argv.slice(2)
const mod = name => import(pathToFileURL(join(buildDir, 'src', 'upload', name)).href)
const { inspectDiskImage } = await mod('disk-format.js')
const { uploadDiskImage } = await mod('page-uploader.js')
const { createPageBlobClient, createPageBlobSink, createPageBlob } = await mod('page-blob-sink.js')

const log = {
  info: m => process.stderr.write(`  [uploader] ${m}\n`),
  warning: m => process.stderr.write(`  [uploader] warning: ${m}\n`),
  debug: () => {}
}
const started = Date.now()
const image = await inspectDiskImage(imagePath, 'data')
const client = createPageBlobClient(blobUrl)
await createPageBlob(client, image.uploadSize)
const result = await uploadDiskImage({
  image,
  sink: createPageBlobSink(client),
  concurrency: Number(concurrency),
  log
})
const status = readFileSync('/proc/self/status', 'utf8')
const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024
process.stdout.write(
  JSON.stringify({ ...result, totalMs: Date.now() - started, peakRss: hwm }) + '\n'
)
