/**
 * The plain-data half of `npm run smoke:azure`: which settings it needs, the names of everything it
 * creates, the `az` commands that create and delete them, the two runs of the bundled action, and
 * the report. No I/O here, so all of it is unit-tested (`__tests__/unit/smoke-plan.test.ts`);
 * `smoke-azure.ts` executes the plan against a real subscription.
 */

/** Settings that must be present before anything runs against Azure. */
export const REQUIRED = [
  'AZURE_CLIENT_ID',
  'AZURE_TENANT_ID',
  'AZURE_SUBSCRIPTION_ID',
  'SMOKE_RESOURCE_GROUP'
] as const

export interface SmokeConfig {
  clientId: string
  tenantId: string
  subscriptionId: string
  /** With a secret, `az` signs in as that service principal in a private config folder; without, the current `az login` session is used. */
  clientSecret?: string
  resourceGroup: string
  /** Region for everything; the resource group's when not given. */
  location?: string
  vmSize: string
  vmImage: string
  /**
   * SMOKE_RESOURCE_MANAGER_ENDPOINT: run the action as `environment: AzureStack` against this
   * Resource Manager (an Azure Stack Hub, whose cloud `az` must have registered and selected, or
   * the project's ARM emulator). Unset: Azure's public cloud, as before.
   */
  resourceManagerEndpoint?: string
}

export type SmokeSetup = { kind: 'skip'; missing: string[] } | { kind: 'run'; config: SmokeConfig }

/** Reads the environment; a missing setting means "say so and stop", never a half run. */
export function readSmokeConfig(env: Record<string, string | undefined>): SmokeSetup {
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim()
    return v ? v : undefined
  }
  const missing = REQUIRED.filter(name => !value(name))
  if (missing.length > 0) return { kind: 'skip', missing }
  return {
    kind: 'run',
    config: {
      clientId: value('AZURE_CLIENT_ID')!,
      tenantId: value('AZURE_TENANT_ID')!,
      subscriptionId: value('AZURE_SUBSCRIPTION_ID')!,
      clientSecret: value('AZURE_CLIENT_SECRET'),
      resourceGroup: value('SMOKE_RESOURCE_GROUP')!,
      location: value('SMOKE_LOCATION'),
      // A small x64 Gen2 size and image that exist in most regions.
      vmSize: value('SMOKE_VM_SIZE') ?? 'Standard_B2s',
      vmImage: value('SMOKE_VM_IMAGE') ?? 'Ubuntu2204',
      resourceManagerEndpoint: value('SMOKE_RESOURCE_MANAGER_ENDPOINT')
    }
  }
}

export function skipMessage(missing: string[]): string {
  return [
    `smoke:azure: skipped, no Azure credentials (missing ${missing.join(', ')}).`,
    'It runs the bundled action against a real subscription: set AZURE_CLIENT_ID, AZURE_TENANT_ID,',
    'AZURE_SUBSCRIPTION_ID and SMOKE_RESOURCE_GROUP (an existing, disposable resource group), plus',
    'AZURE_CLIENT_SECRET or an `az login` session with rights on that group. See README, Development.'
  ].join('\n')
}

/** Everything the smoke run creates, named from one suffix so a failed run's leftovers are findable. */
export interface SmokeNames {
  suffix: string
  gallery: string
  uploadDefinition: string
  captureDefinition: string
  uploadImage: string
  captureImage: string
  vm: string
  vnet: string
  nsg: string
  version: string
  tag: string
  /**
   * GITHUB_RUN_ID for the action's runs: a number, as on a runner (@actions/github parses it with
   * parseInt; a word gave the upload disk and the Run Command unit names with 'NaN').
   */
  runId: string
}

/** `suffix`: lower-case letters and digits (e.g. a time stamp), kept short for the 15-character VM name. */
export function smokeNames(suffix: string): SmokeNames {
  if (!/^[a-z0-9]{1,8}$/.test(suffix))
    throw new Error(`smoke suffix must be 1-8 of [a-z0-9], got '${suffix}'`)
  return {
    suffix,
    gallery: `smoke_gallery_${suffix}`,
    uploadDefinition: `smoke-upload-${suffix}`,
    captureDefinition: `smoke-capture-${suffix}`,
    uploadImage: `smoke-upload-${suffix}`,
    captureImage: `smoke-capture-${suffix}`,
    vm: `smokevm${suffix}`,
    vnet: `smoke-vnet-${suffix}`,
    nsg: `smoke-nsg-${suffix}`,
    version: '1.0.0',
    tag: `smoke-azure=${suffix}`,
    runId: String(parseInt(suffix, 36))
  }
}

/** 1 GiB: the smallest image worth a real upload, a whole number of MiB as a raw image must be. */
export const RAW_IMAGE_BYTES = 1024 * 1024 * 1024

export type AzCommand = string[]

/** `az` commands that create what the runs need; every resource carries the run's tag. */
export function setupCommands(c: SmokeConfig, n: SmokeNames, location: string): AzCommand[] {
  const common = ['--resource-group', c.resourceGroup, '--subscription', c.subscriptionId]
  return [
    [
      'sig',
      'create',
      ...common,
      '--gallery-name',
      n.gallery,
      '--location',
      location,
      '--tags',
      n.tag
    ],
    [
      'vm',
      'create',
      ...common,
      '--name',
      n.vm,
      '--location',
      location,
      '--image',
      c.vmImage,
      '--size',
      c.vmSize,
      // Standard, not the CLI's TrustedLaunch default: a managed image cannot be made from a
      // Trusted Launch VM (hashicorp/packer#13189), and the capture makes one.
      '--security-type',
      'Standard',
      '--admin-username',
      'azureuser',
      '--generate-ssh-keys',
      '--public-ip-address',
      '',
      '--nsg',
      n.nsg,
      '--nsg-rule',
      'NONE',
      '--vnet-name',
      n.vnet,
      '--subnet',
      'default',
      '--os-disk-delete-option',
      'Delete',
      '--nic-delete-option',
      'Delete',
      '--tags',
      n.tag
    ]
  ]
}

/**
 * Deletes in dependency order; each command runs even when an earlier one failed, and a thing
 * already gone is not an error (`--yes`, deletes of missing resources succeed or report not found).
 */
export function cleanupCommands(c: SmokeConfig, n: SmokeNames): AzCommand[] {
  const common = ['--resource-group', c.resourceGroup, '--subscription', c.subscriptionId]
  const sig = [...common, '--gallery-name', n.gallery]
  return [
    ['vm', 'delete', ...common, '--name', n.vm, '--yes'],
    ['network', 'vnet', 'delete', ...common, '--name', n.vnet],
    ['network', 'nsg', 'delete', ...common, '--name', n.nsg],
    ...[n.uploadDefinition, n.captureDefinition].flatMap(def => [
      [
        'sig',
        'image-version',
        'delete',
        ...sig,
        '--gallery-image-definition',
        def,
        '--gallery-image-version',
        n.version
      ],
      ['sig', 'image-definition', 'delete', ...sig, '--gallery-image-definition', def]
    ]),
    ['sig', 'delete', ...common, '--gallery-name', n.gallery],
    ['image', 'delete', ...common, '--name', n.uploadImage],
    ['image', 'delete', ...common, '--name', n.captureImage]
  ]
}

export interface ActionStep {
  name: 'upload' | 'capture'
  inputs: Record<string, string>
}

/** The action's sign-in inputs: a secret when one is set, else the `az` session. */
export function authInputs(c: SmokeConfig): Record<string, string> {
  return {
    'client-id': c.clientId,
    'tenant-id': c.tenantId,
    'subscription-id': c.subscriptionId,
    ...(c.resourceManagerEndpoint
      ? { environment: 'AzureStack', 'resource-manager-endpoint': c.resourceManagerEndpoint }
      : {}),
    ...(c.clientSecret
      ? { 'auth-type': 'client-secret', 'client-secret': c.clientSecret }
      : { 'auth-type': 'azure-cli' })
  }
}

/** The two runs of the bundled action: an upload and a capture, each into a managed image and a gallery version. */
export function actionSteps(
  c: SmokeConfig,
  n: SmokeNames,
  location: string,
  rawImagePath: string
): ActionStep[] {
  const target = (image: string, definition: string): Record<string, string> => ({
    'resource-group': c.resourceGroup,
    location,
    'image-name': image,
    gallery: n.gallery,
    'gallery-image': definition,
    'create-gallery-image': 'true',
    'gallery-image-version': n.version,
    'target-regions': location,
    tags: n.tag
  })
  return [
    {
      name: 'upload',
      inputs: {
        ...authInputs(c),
        mode: 'upload',
        vhd: rawImagePath,
        'os-type': 'Linux',
        'os-state': 'Generalized',
        'hyper-v-generation': 'V2',
        ...target(n.uploadImage, n.uploadDefinition)
      }
    },
    {
      name: 'capture',
      inputs: {
        ...authInputs(c),
        mode: 'capture',
        'source-vm': n.vm,
        deprovision: 'true',
        ...target(n.captureImage, n.captureDefinition)
      }
    }
  ]
}

export interface StepOutcome {
  name: string
  exitCode: number | null
  outputs: Record<string, string>
  errors: string[]
  postExitCode: number | null | undefined
}

export interface CommandOutcome {
  command: AzCommand
  ok: boolean
  detail: string
}

/** Secrets never reach the report: the client secret is masked wherever it appears. */
export function redact(text: string, c: SmokeConfig | undefined): string {
  return c?.clientSecret ? text.split(c.clientSecret).join('***') : text
}

/** The report printed at the end: what the action and `az` got from Azure, and what was left behind. */
export function report(
  c: SmokeConfig,
  n: SmokeNames,
  steps: StepOutcome[],
  setup: CommandOutcome[],
  cleanup: CommandOutcome[]
): { text: string; ok: boolean } {
  const lines: string[] = ['', '──── smoke:azure report ────']
  const line = (o: CommandOutcome): string =>
    `  ${o.ok ? 'ok  ' : 'FAIL'} az ${o.command.slice(0, 3).join(' ')} … ${o.ok ? '' : o.detail}`.trimEnd()
  lines.push('setup:', ...setup.map(line))
  for (const s of steps) {
    lines.push(
      `action ${s.name}: exit ${s.exitCode}, post step exit ${s.postExitCode ?? 'not run'}`
    )
    for (const [k, v] of Object.entries(s.outputs)) lines.push(`  output ${k}=${v}`)
    for (const e of s.errors) lines.push(`  ${e}`)
  }
  lines.push('cleanup:', ...cleanup.map(line))
  const leftovers = cleanup.filter(
    o => !o.ok && !/not ?found|could not be found|does not exist/i.test(o.detail)
  )
  const ok =
    setup.every(o => o.ok) &&
    steps.length === 2 &&
    steps.every(s => s.exitCode === 0 && (s.postExitCode ?? 0) === 0) &&
    leftovers.length === 0
  if (leftovers.length > 0)
    lines.push(
      `left behind in ${c.resourceGroup} (delete by hand; all of it is tagged ${n.tag}):`,
      ...leftovers.map(line)
    )
  lines.push(ok ? 'smoke:azure: passed' : 'smoke:azure: FAILED')
  return { text: redact(lines.join('\n'), c), ok }
}
