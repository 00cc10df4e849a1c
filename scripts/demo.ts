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
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { runAction, type ActionRun } from '../__tests__/support/action-runner.js'
import {
  BUILD_TEMPORARY_TYPES,
  seedBuildCatalogue,
  UBUNTU_URN
} from '../__tests__/support/build-cloud.js'
import { startLocalCloud, type LocalCloud } from '../__tests__/support/cloud.js'

interface Scenario {
  /** What the demo shows, printed first. */
  title: string
  /** Puts what the step needs into the emulator before the run. */
  seed(cloud: LocalCloud): void
  /** The step's `with:` (connection inputs are added). */
  step: Record<string, string>
  /** Files in the workspace (`customize-scripts`), workspace-relative path → content. */
  workspace?: Record<string, string>
  /** Whether the scenario shows a successful run (`true`) or a failing one. */
  succeeds: boolean
}

const RESOURCE_GROUP = 'build-rg'
const LOCATION = 'westeurope'

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

/**
 * The Marketplace SKU the build starts from (the build tests' catalogue seed), with three versions:
 * `latest` must pick the newest by number.
 */
function seedBuild(cloud: LocalCloud): void {
  seedBuildCatalogue(cloud, RESOURCE_GROUP, LOCATION, {
    versions: ['24.04.202609150', '24.04.202611250', '24.04.202610300'],
    architecture: 'x64',
    securityType: 'TrustedLaunchSupported'
  })
  const { emu } = cloud
  emu.addGallery(RESOURCE_GROUP, 'golden_gallery', LOCATION)
  // What the guest prints for each script (the emulator cannot run them): found by a marker in the
  // script's text.
  emu.addScriptBehaviour({
    marker: '# demo: provision',
    stdout: 'Installing the monitoring agent\nagent 3.2.1 installed\nprovision: done\n',
    progressive: true,
    polls: 3
  })
  emu.addScriptBehaviour({
    marker: '# demo: harden',
    stdout: 'Applying the SSH baseline\nkernel 6.8.0-1017 installed: a reboot is required\n',
    leavesRebootRequired: true
  })
  emu.addScriptBehaviour({
    marker: 'apt-get -y upgrade',
    stdout: 'Reading package lists...\n12 upgraded, 0 newly installed, 0 to remove\n'
  })
}

const BUILD_WORKSPACE = {
  'scripts/provision.sh': '#!/bin/bash\n# demo: provision\nset -euo pipefail\n./install-agent.sh\n',
  'scripts/harden.sh': '#!/bin/bash\n# demo: harden\nset -euo pipefail\n./ssh-baseline.sh\n'
}

const BUILD_STEP = {
  'resource-group': RESOURCE_GROUP,
  'base-image': UBUNTU_URN,
  'customize-scripts': 'scripts/provision.sh\nscripts/harden.sh',
  customize: 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get -y upgrade',
  'image-name': 'golden-42',
  gallery: 'golden_gallery',
  'gallery-image': 'ubuntu-24-04',
  'create-gallery-image': 'true',
  'keep-versions': '5',
  tags: 'team=platform'
}

const build: Scenario = {
  title:
    'build: Ubuntu 24.04 from the Marketplace, two scripts and an inline one (one asks for a ' +
    'restart), captured into a managed image and a gallery version; temporary resources deleted',
  seed: seedBuild,
  step: BUILD_STEP,
  workspace: BUILD_WORKSPACE,
  succeeds: true
}

const buildFail: Scenario = {
  title:
    'build-fail: the same build, but scripts/harden.sh exits 2: the error names it, nothing is ' +
    'published, and after the post step no temporary resource is left',
  seed(cloud) {
    seedBuild(cloud)
    cloud.emu.addScriptBehaviour({
      marker: '# demo: harden',
      stdout: 'Applying the SSH baseline\n',
      stderr:
        "sshd: /etc/ssh/sshd_config.d/50-baseline.conf line 3: unsupported option 'Protocol'\n",
      exitCode: 2
    })
  },
  step: BUILD_STEP,
  workspace: BUILD_WORKSPACE,
  succeeds: false
}

const SCENARIOS: Record<string, Scenario> = { capture, build, 'build-fail': buildFail }

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
 * What the run made and left in the emulator (resources.created(): not the seed), printed by type,
 * and whether it is what the scenario promises: no temporary resource after the post step, and no
 * image or version from a failed run.
 */
function checkLeftovers(cloud: LocalCloud, scenario: Scenario): boolean {
  const left = cloud.emu.resources.created().map(r => String(r.id))
  console.log('──── what the run left in Azure (after the post step) ────')
  for (const id of left) console.log(`${typeOf(id)}  ${id}`)
  if (left.length === 0) console.log('(nothing)')
  const problems = [
    ...left
      .filter(id => BUILD_TEMPORARY_TYPES.includes(typeOf(id)))
      .map(id => `temporary resource left: ${id}`),
    ...(scenario.succeeds
      ? []
      : left
          .filter(id => PRODUCT_TYPES.includes(typeOf(id)))
          .map(id => `a failed run published: ${id}`))
  ]
  for (const p of problems) console.error(p)
  return problems.length === 0
}

/** A workspace directory holding the scenario's files (the runner's GITHUB_WORKSPACE). */
function makeWorkspace(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-workspace-'))
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), content)
  }
  return dir
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
    const env = scenario.workspace
      ? { ...cloud.env, GITHUB_WORKSPACE: makeWorkspace(scenario.workspace) }
      : cloud.env
    const run = await runAction({ inputs: { ...cloud.inputs, ...scenario.step }, env })
    printRun(run, cloud)
    const clean = checkLeftovers(cloud, scenario)
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
