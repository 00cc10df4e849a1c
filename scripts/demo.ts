/**
 * `npm run demo [-- capture|build|build-fail]`: the bundled action, end to end, with no Azure
 * account. Starts the local ARM emulator, seeds what the scenario needs, runs dist/index.js as the
 * GitHub runner would (main step, then post step), and prints the log, the outputs, the job summary,
 * the writes Azure would have received and what the run left in the resource group.
 *
 * - `capture` (the default): a running Linux VM deprovisioned, generalized and captured into a
 *   managed image and a gallery version.
 * - `build`: a Linux build from `Canonical:ubuntu-24_04-lts:server:latest`: the base image resolved,
 *   the scripts run through Run Command, an image and a gallery version made, and every temporary
 *   resource deleted.
 * - `build-fail`: the same build with a script that exits non-zero: the error names the script, and
 *   after the post step nothing of the run is left.
 */
import { runAction, type ActionRun } from '../__tests__/support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../__tests__/support/cloud.js'

interface Scenario {
  /** What the demo shows, printed first. */
  title: string
  /** Puts what the step needs into the emulator before the run. */
  seed(cloud: LocalCloud): void
  /** The step's `with:` (connection inputs are added). */
  step: Record<string, string>
  /** Whether the scenario shows a successful run (`true`) or a failing one. */
  succeeds: boolean
}

const RESOURCE_GROUP = 'build-rg'
const LOCATION = 'westeurope'

/** Resource types a build creates only for the run: none may be left once the post step ran. */
const TEMPORARY_TYPES = [
  'Microsoft.Compute/virtualMachines',
  'Microsoft.Compute/disks',
  'Microsoft.Network/networkInterfaces',
  'Microsoft.Network/networkSecurityGroups',
  'Microsoft.Network/virtualNetworks',
  'Microsoft.Network/publicIPAddresses'
]

/** What a run publishes: a failed run must leave none of these. */
const PRODUCT_TYPES = ['Microsoft.Compute/images', 'Microsoft.Compute/galleries/images/versions']

const capture: Scenario = {
  title: 'capture: deprovision, generalize and capture a running Linux VM',
  seed({ emu }) {
    emu.addResourceGroup(RESOURCE_GROUP, LOCATION)
    emu.addVm({
      resourceGroup: RESOURCE_GROUP,
      name: 'golden-builder',
      location: LOCATION,
      osType: 'Linux',
      dataDisks: 1
    })
    emu.addGallery(RESOURCE_GROUP, 'golden_gallery', LOCATION)
  },
  step: {
    'resource-group': RESOURCE_GROUP,
    'source-vm': 'golden-builder',
    deprovision: 'true',
    'backup-snapshot': 'true',
    'image-name': 'golden-42',
    gallery: 'golden_gallery',
    'gallery-image': 'ubuntu-golden',
    'create-gallery-image': 'true',
    'target-regions': 'westeurope, northeurope=2',
    tags: 'team=platform'
  },
  succeeds: true
}

const SCENARIOS: Record<string, Scenario> = { capture }

/** The log as a person reads it on github.com: groups as headings, debug lines hidden. */
function readable(log: string): string {
  return log
    .split('\n')
    .filter(line => !line.startsWith('::debug::'))
    .map(line => line.replace(/^::group::(.*)$/, '▸ $1').replace(/^::endgroup::$/, ''))
    .join('\n')
}

function typeOf(id: string): string {
  // /subscriptions/s/resourceGroups/g/providers/<Namespace>/<type>/<name>[/<type>/<name>...]
  const parts = id.split('/providers/')[1]?.split('/') ?? []
  const types = parts.filter((_, i) => i === 0 || i % 2 === 1)
  return types.join('/')
}

function printRun(run: ActionRun, cloud: LocalCloud): void {
  console.log('\n──── action log (main step) ────')
  process.stdout.write(readable(run.main.stdout + run.main.stderr))
  console.log('──── action log (post step) ────')
  process.stdout.write(readable((run.post?.stdout ?? '') + (run.post?.stderr ?? '')))
  console.log('──── outputs ────')
  for (const [k, v] of Object.entries(run.outputs)) console.log(`${k}=${v}`)
  console.log('──── job summary ────')
  console.log(run.summary)
  console.log('──── what Azure received (writes) ────')
  for (const r of cloud.emu.writes()) console.log(`${r.method} ${r.path} → ${r.status}`)
}

/**
 * What the run added to the emulator (everything not there before it), printed by type, and
 * whether it is what the scenario promises: no temporary resource after the post step, and no
 * image or version from a failed run.
 */
function checkLeftovers(before: Set<string>, cloud: LocalCloud, scenario: Scenario): boolean {
  const added = cloud.emu.resources
    .list()
    .map(r => String(r.id))
    .filter(id => !before.has(id.toLowerCase()))
  console.log('──── what the run left in Azure (after the post step) ────')
  for (const id of added) console.log(`${typeOf(id)}  ${id}`)
  if (added.length === 0) console.log('(nothing)')
  const temporary = added.filter(id => TEMPORARY_TYPES.includes(typeOf(id)))
  const products = added.filter(id => PRODUCT_TYPES.includes(typeOf(id)))
  const problems = [
    ...temporary.map(id => `temporary resource left: ${id}`),
    ...(scenario.succeeds ? [] : products.map(id => `a failed run published: ${id}`))
  ]
  for (const p of problems) console.error(p)
  return problems.length === 0
}

async function main(name: string): Promise<number> {
  const scenario = SCENARIOS[name]
  if (!scenario) {
    console.error(
      `Unknown demo '${name}'. Use: npm run demo [-- ${Object.keys(SCENARIOS).join('|')}]`
    )
    return 2
  }
  const cloud = await startLocalCloud({ lro: { pollsBeforeDone: 2, retryAfterSeconds: 1 } })
  try {
    scenario.seed(cloud)
    const before = new Set(cloud.emu.resources.list().map(r => String(r.id).toLowerCase()))
    console.log(`Demo: ${scenario.title}`)
    console.log('Local Azure emulator at', cloud.emu.url, '(an AzureStack-style cloud)')
    console.log(
      'Workflow step:\n  with:\n' +
        Object.entries(scenario.step)
          .map(
            ([k, v]) =>
              `    ${k}: ${v.includes('\n') ? `|\n      ${v.split('\n').join('\n      ')}` : v}`
          )
          .join('\n')
    )
    const run = await runAction({ inputs: { ...cloud.inputs, ...scenario.step }, env: cloud.env })
    printRun(run, cloud)
    const clean = checkLeftovers(before, cloud, scenario)
    const asPromised = scenario.succeeds ? run.main.code === 0 : run.main.code !== 0
    if (!asPromised) {
      console.error(
        `The main step exited ${run.main.code}; this demo expects it to ${scenario.succeeds ? 'succeed' : 'fail'}.`
      )
    }
    return asPromised && clean ? 0 : 1
  } finally {
    await cloud.close()
  }
}

process.exitCode = await main(process.argv[2] ?? 'capture')
