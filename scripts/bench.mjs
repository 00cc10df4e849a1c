#!/usr/bin/env node
// Benchmark (not a test): the WHOLE bundled action (dist/index.js in upload mode, run as a runner
// does, against the ARM emulator with Azurite behind its upload disk: scripts/bench-action.ts) vs
// AzCopy vs `cat file > /dev/null` on the same file. Peak RSS is the process's VmHWM. Run
// `npm run build` first: the bench measures dist/ as it is. Run with `npm run bench`. Options (env):
//   BENCH_DIR (default: os.tmpdir()), BENCH_CONCURRENCY (8), BENCH_SKIP_AZCOPY=1, BENCH_SKIP_64G=1
//
// What bounds the numbers: Azurite 3.37 computes a CRC64 of every Put Page body in JavaScript at
// ~85 MB/s, on the same CPUs as the client, so times here mostly measure bytes *sent*; against
// Azure the per-blob/disk target (~60 MiB/s on standard tiers) plays that role.
import { spawn, execFileSync } from 'node:child_process'
import { setInterval, clearInterval } from 'node:timers'
import {
  copyFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  statSync
} from 'node:fs'
import { open } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { cpus, totalmem, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const MiB = 1024 * 1024
const GiB = 1024 * MiB
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 8)
const work = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'upload-bench-'))
const say = m => process.stderr.write(`${m}\n`)

function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts })
    let stdout = ''
    let stderr = ''
    let hwm = 0
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024)
      } catch {
        /* exited */
      }
    }, 100)
    child.stdout.on('data', d => (stdout += d))
    child.stderr.on('data', d => {
      stderr += d
      if (opts.echo) process.stderr.write(d)
    })
    child.on('error', reject)
    child.on('exit', code => {
      clearInterval(poll)
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (code !== 0) reject(new Error(`${cmd} exited with ${code}\n${stdout}\n${stderr}`))
      else resolvePromise({ ms, stdout, stderr, hwm })
    })
  })
}

// 1. Compile the VHD footer writer and the Azurite launcher with tsc into the temp dir; link
//    node_modules so the compiled ESM resolves @azure/storage-blob. Bundle the whole-action driver
//    under the repo's .tmp (the test support finds action.yml and dist/ above itself).
say(`work dir ${work}`)
const build = join(work, 'build')
execFileSync(
  'npx',
  [
    'tsc',
    '--outDir',
    build,
    '--rootDir',
    repo,
    '--module',
    'NodeNext',
    '--moduleResolution',
    'NodeNext',
    '--target',
    'ES2022',
    '--skipLibCheck',
    '--types',
    'node',
    join(repo, 'src/upload/vhd-footer.ts'),
    join(repo, '__tests__/support/azurite.ts')
  ],
  { cwd: repo, stdio: 'inherit' }
)
const driver = join(repo, '.tmp/bench-action')
execFileSync('npx', ['ncc', 'build', 'scripts/bench-action.ts', '-o', driver, '--quiet'], {
  cwd: repo,
  stdio: 'inherit'
})
symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'))
const { startAzurite } = await import(
  pathToFileURL(join(build, '__tests__/support/azurite.js')).href
)
const { buildFixedVhdFooter } = await import(
  pathToFileURL(join(build, 'src/upload/vhd-footer.js')).href
)
const {
  StorageSharedKeyCredential,
  generateAccountSASQueryParameters,
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  SASProtocol,
  BlobServiceClient
} = await import(
  pathToFileURL(join(repo, 'node_modules/@azure/storage-blob/dist/esm/index.js')).href
)

// 2. Images: sparse fixed VHDs, data in scattered extents plus scattered 4 KiB blocks.
async function makeImage(path, virtualSize, extents, extentSize, blocks) {
  const fh = await open(path, 'w')
  await fh.truncate(virtualSize + 512)
  const data = randomBytes(4 * MiB)
  let seed = 12345
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  let bytes = 0
  for (let i = 0; i < extents; i++) {
    const start = Math.floor((rnd() * (virtualSize - extentSize)) / 4096) * 4096
    for (let at = 0; at < extentSize; at += 4 * MiB) {
      const n = Math.min(4 * MiB, extentSize - at)
      await fh.write(data, 0, n, start + at)
    }
    bytes += extentSize
  }
  for (let i = 0; i < blocks; i++) {
    await fh.write(
      data,
      (i * 4096) % (4 * MiB),
      4096,
      Math.floor((rnd() * virtualSize) / 4096) * 4096
    )
    bytes += 4096
  }
  await fh.write(buildFixedVhdFooter({ virtualSize }), 0, 512, virtualSize)
  await fh.close()
  return bytes
}

// 3. AzCopy from the npm package: copy the binary, set its run bit, check libsecret.
function prepareAzcopy() {
  if (process.env.BENCH_SKIP_AZCOPY) return undefined
  const src = join(repo, 'node_modules/@azure-tools/azcopy-linux/dist/bin/azcopy_linux_amd64')
  if (!existsSync(src))
    return (say('AzCopy: @azure-tools/azcopy-linux not installed; skipping'), undefined)
  const bin = join(work, 'azcopy')
  copyFileSync(src, bin)
  chmodSync(bin, 0o755)
  const hasLibsecret = () => {
    try {
      return execFileSync('ldconfig', ['-p'], { encoding: 'utf8' }).includes('libsecret-1.so.0')
    } catch {
      return false
    }
  }
  if (!hasLibsecret()) {
    if (process.getuid?.() === 0) {
      say('AzCopy needs libsecret-1-0; installing it with apt-get')
      try {
        execFileSync('apt-get', ['install', '-y', '-q', 'libsecret-1-0'], {
          stdio: 'inherit',
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
        })
      } catch {
        execFileSync('apt-get', ['update', '-q'], { stdio: 'inherit' })
        execFileSync('apt-get', ['install', '-y', '-q', 'libsecret-1-0'], {
          stdio: 'inherit',
          env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
        })
      }
    }
    if (!hasLibsecret())
      return (
        say(
          'AzCopy needs libsecret-1.so.0: run `sudo apt-get install -y libsecret-1-0`; skipping AzCopy'
        ),
        undefined
      )
  }
  return bin
}

async function sentBytes(container, name) {
  let sum = 0
  for await (const r of container.getPageBlobClient(name).listPageRanges())
    sum += r.end - r.start + 1
  return sum
}

async function benchOne(label, path, dataBytes, azcopy) {
  const size = statSync(path).size
  say(
    `\n== ${label}: ${(size / GiB).toFixed(2)} GiB virtual, ${(dataBytes / MiB).toFixed(0)} MiB of data`
  )
  const rows = []
  const cat = await run('sh', ['-c', `cat '${path}' > /dev/null`])
  rows.push({ tool: 'cat > /dev/null (floor)', ms: cat.ms, sent: 0, rss: cat.hwm })
  say(`cat: ${(cat.ms / 1000).toFixed(2)} s`)

  for (const tool of ['action', 'azcopy']) {
    if (tool === 'azcopy' && !azcopy) continue
    if (tool === 'action') {
      // The driver starts its own ARM emulator and Azurite.
      const r = await run(process.execPath, [join(driver, 'index.js'), path, String(concurrency)])
      const result = JSON.parse(r.stdout.trim().split('\n').pop())
      rows.push({
        tool: `whole action, dist/index.js (c=${concurrency})`,
        ms: result.mainMs,
        sent: result.sent,
        rss: result.peakRss
      })
      say(
        `action: main step ${(result.mainMs / 1000).toFixed(2)} s, peak RSS ${(result.peakRss / MiB).toFixed(0)} MiB, sent ${(result.sent / MiB).toFixed(0)} MiB`
      )
      continue
    }
    const azurite = await startAzurite()
    try {
      const credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
      const container = new BlobServiceClient(azurite.blobEndpoint, credential).getContainerClient(
        'bench'
      )
      await container.create()
      const sas = generateAccountSASQueryParameters(
        {
          expiresOn: new Date(Date.now() + 3600_000),
          permissions: AccountSASPermissions.parse('rwdlacup'),
          resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
          services: AccountSASServices.parse('b').toString(),
          protocol: SASProtocol.HttpsAndHttp
        },
        credential
      ).toString()
      const url = `${container.getBlobClient(`${tool}.vhd`).url}?${sas}`
      {
        const env = {
          ...process.env,
          AZCOPY_LOG_LOCATION: join(work, 'azlogs'),
          AZCOPY_JOB_PLAN_LOCATION: join(work, 'azplans'),
          AZCOPY_DISABLE_SYSLOG: 'true'
        }
        mkdirSync(env.AZCOPY_LOG_LOCATION, { recursive: true })
        const r = await run(
          azcopy,
          [
            'copy',
            path,
            url,
            '--from-to',
            'LocalBlob',
            '--blob-type',
            'PageBlob',
            '--log-level',
            'ERROR',
            '--output-level',
            'quiet'
          ],
          { env }
        )
        const sent = await sentBytes(container, `${tool}.vhd`)
        rows.push({ tool: 'AzCopy 10.32 (default concurrency)', ms: r.ms, sent, rss: r.hwm })
        say(`azcopy: ${(r.ms / 1000).toFixed(2)} s, sent ${(sent / MiB).toFixed(0)} MiB`)
      }
    } finally {
      await azurite.stop()
    }
  }
  const az = rows.find(r => r.tool.startsWith('AzCopy'))
  const floor = rows[0]
  const lines = [
    `| ${label} | wall s | virtual MiB/s | MiB sent | peak RSS MiB | time ÷ AzCopy | time ÷ floor |`,
    '| --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const r of rows) {
    lines.push(
      `| ${r.tool} | ${(r.ms / 1000).toFixed(2)} | ${(size / MiB / (r.ms / 1000)).toFixed(0)} | ${r.sent ? (r.sent / MiB).toFixed(0) : '–'} | ${(r.rss / MiB).toFixed(0)} | ${az ? (r.ms / az.ms).toFixed(2) : '–'} | ${(r.ms / floor.ms).toFixed(1)} |`
    )
  }
  return lines.join('\n')
}

const azcopy = prepareAzcopy()
const tables = []
try {
  const img4 = join(work, 'sparse4g.vhd')
  const data4 = await makeImage(img4, 4 * GiB, 8, 120 * MiB, 300)
  tables.push(await benchOne('4 GiB, ~1 GiB data', img4, data4, azcopy))
  rmSync(img4)
  if (!process.env.BENCH_SKIP_64G) {
    const img64 = join(work, 'sparse64g.vhd')
    const data64 = await makeImage(img64, 64 * GiB, 4, 64 * MiB, 300)
    tables.push(await benchOne('64 GiB, mostly empty', img64, data64, azcopy))
    rmSync(img64)
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
const cpu = cpus()[0]?.model ?? '?'
console.log(
  `\nnproc ${cpus().length} (${cpu}), RAM ${(totalmem() / GiB).toFixed(1)} GiB, Node ${process.version}, Azurite (disk persistence, loopback http)\n`
)
console.log(tables.join('\n\n'))
console.log(
  '\nThe action row is its main step from start to exit: ARM calls (upload disk, write access, image) included.'
)
console.log(
  '\nAzurite computes a CRC64 of every Put Page body in JavaScript (~85 MB/s) on the same CPUs: times mostly measure bytes sent.'
)
