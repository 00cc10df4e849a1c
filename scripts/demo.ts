/**
 * `npm run demo`: the bundled action, end to end, with no Azure account. Starts the local ARM
 * emulator with a sample Linux VM, runs dist/index.js on it as the GitHub runner would (main step,
 * then post step), and prints the log, the outputs and the job summary.
 */
import { runAction } from '../__tests__/support/action-runner.js'
import { startLocalCloud } from '../__tests__/support/cloud.js'

/** The log as a person reads it on github.com: groups as headings, debug lines hidden. */
function readable(log: string): string {
  return log
    .split('\n')
    .filter(line => !line.startsWith('::debug::'))
    .map(line => line.replace(/^::group::(.*)$/, '▸ $1').replace(/^::endgroup::$/, ''))
    .join('\n')
}

const cloud = await startLocalCloud({ lro: { pollsBeforeDone: 2, retryAfterSeconds: 1 } })
try {
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
  cloud.emu.addVm({
    resourceGroup: 'build-rg',
    name: 'golden-builder',
    location: 'westeurope',
    osType: 'Linux',
    dataDisks: 1
  })
  cloud.emu.addGallery('build-rg', 'golden_gallery', 'westeurope')

  const step = {
    'resource-group': 'build-rg',
    'source-vm': 'golden-builder',
    deprovision: 'true',
    'backup-snapshot': 'true',
    'image-name': 'golden-42',
    gallery: 'golden_gallery',
    'gallery-image': 'ubuntu-golden',
    'create-gallery-image': 'true',
    'target-regions': 'westeurope, northeurope=2',
    tags: 'team=platform'
  }
  console.log('Local Azure emulator at', cloud.emu.url, '(an AzureStack-style cloud)')
  console.log(
    'Workflow step:\n  with:\n' +
      Object.entries(step)
        .map(([k, v]) => `    ${k}: ${v}`)
        .join('\n')
  )
  console.log('\n──── action log (main step) ────')
  const run = await runAction({ inputs: { ...cloud.inputs, ...step }, env: cloud.env })
  process.stdout.write(readable(run.main.stdout + run.main.stderr))
  console.log('──── action log (post step) ────')
  process.stdout.write(readable((run.post?.stdout ?? '') + (run.post?.stderr ?? '')))
  console.log('──── outputs ────')
  for (const [k, v] of Object.entries(run.outputs)) console.log(`${k}=${v}`)
  console.log('──── job summary ────')
  console.log(run.summary)
  console.log('──── what Azure received (writes) ────')
  for (const r of cloud.emu.writes()) console.log(`${r.method} ${r.path} → ${r.status}`)
  process.exitCode = run.main.code ?? 1
} finally {
  await cloud.close()
}
