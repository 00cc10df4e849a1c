/**
 * Child of scripts/bench.mjs (bundled with ncc into .tmp/bench-action): uploads one image with the
 * WHOLE bundled action (dist/index.js, upload mode, run as a runner does through the test support's
 * action runner) against the ARM emulator with Azurite behind its upload disks, reached directly
 * (no fault proxy, like AzCopy). Samples the main step's VmHWM from /proc every 100 ms (a
 * high-water mark, so the last sample is the peak up to then) and prints one JSON line: main-step
 * wall time, its peak RSS, and the bytes the disk's page ranges hold afterwards.
 */
import { readFileSync } from 'node:fs'
import { runAction, errorLines } from '../__tests__/support/action-runner.js'
import { startAzurite } from '../__tests__/support/azurite.js'
import { startLocalCloud } from '../__tests__/support/cloud.js'

const [imagePath, concurrency] = process.argv.slice(2)
if (!imagePath || !concurrency) throw new Error('usage: bench-action <image> <concurrency>')

const peakOf = (pid: number): number => {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0 // exited
  }
}

const azurite = await startAzurite()
const cloud = await startLocalCloud({
  storage: {
    blobEndpoint: azurite.blobEndpoint,
    accountName: azurite.accountName,
    accountKey: azurite.accountKey
  },
  lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
})
try {
  cloud.emu.addResourceGroup('bench-rg', 'westeurope')
  const peaks = { main: 0, post: 0 }
  let mainStarted = 0
  let mainMs = 0
  let poll: NodeJS.Timeout | undefined
  const run = await runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': 'bench-rg',
      'os-type': 'Linux',
      'hyper-v-generation': 'V2',
      vhd: imagePath,
      'image-name': 'bench',
      'keep-upload': 'true',
      'upload-concurrency': concurrency
    },
    env: cloud.env,
    onSpawn: (pid, step) => {
      clearInterval(poll)
      if (step === 'main') mainStarted = Date.now()
      else mainMs = Date.now() - mainStarted
      poll = setInterval(() => (peaks[step] = Math.max(peaks[step], peakOf(pid))), 100)
    }
  })
  clearInterval(poll)
  const errors = errorLines(run.main)
  if (run.main.code !== 0 || errors.length > 0)
    throw new Error(`the action failed (${run.main.code}):\n${run.main.stdout}\n${run.main.stderr}`)
  const diskId = `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/bench-rg/providers/Microsoft.Compute/disks/bench-upload-9000001-os`
  let sent = 0
  for await (const r of cloud.emu.diskBlobClient(diskId).listPageRanges())
    sent += r.end - r.start + 1
  console.log(JSON.stringify({ mainMs, peakRss: peaks.main, postPeakRss: peaks.post, sent }))
} finally {
  await cloud.close()
  await azurite.stop()
}
