/** Build mode's inputs read into the plan: the four forms of `base-image`, defaults and refusals. */
import { describe, expect, it } from '@jest/globals'
import { InputError, readPlan, type PlanContext } from '../../../src/inputs.js'
import { actionDefaults } from '../../support/action-runner.js'
import { badBuildInputCases } from '../../support/bad-inputs.js'

const SUB = '11111111-2222-3333-4444-555555555555'
const context: PlanContext = {
  now: new Date('2026-11-26T10:00:00Z'),
  run: {
    repository: 'contoso/golden-images',
    sha: 'abc',
    ref: 'refs/heads/main',
    workflow: 'nightly',
    runId: '777',
    runAttempt: 1,
    runNumber: 42
  }
}

function plan(inputs: Record<string, string>) {
  const all: Record<string, string> = { ...actionDefaults(), ...inputs }
  return readPlan(name => all[name] ?? '', context)
}

const build = {
  'subscription-id': SUB,
  'resource-group': 'build-rg',
  'base-image': 'Canonical:ubuntu-24_04-lts:server:latest',
  gallery: 'images',
  'gallery-image': 'ubuntu'
}
const gallery = `/subscriptions/${SUB}/resourceGroups/images-rg/providers/Microsoft.Compute/galleries/shared`

describe('readPlan: build', () => {
  it('infers build mode from base-image and fills the defaults', () => {
    const p = plan(build)
    if (p.source.mode !== 'build') throw new Error(`mode ${p.source.mode}`)
    expect(p.source).toMatchObject({
      baseImage: {
        kind: 'marketplace',
        publisher: 'Canonical',
        offer: 'ubuntu-24_04-lts',
        sku: 'server',
        version: 'latest'
      },
      vmSize: 'Standard_D2s_v5',
      customizeScripts: [],
      keepBuildVm: 'false'
    })
    expect(p.source.subnet).toBeUndefined()
    expect(p.source.securityType).toBeUndefined()
    expect(p.source.osDiskSizeGb).toBeUndefined()
    expect(p.source.customize).toBeUndefined()
  })

  it('names the temporary resources after the owner key: the same in every attempt, within Windows limits', () => {
    const first = plan(build)
    const again = readPlan(
      name => ({ ...actionDefaults(), ...build })[name] ?? '',
      { ...context, run: { ...context.run, runAttempt: 2 } }
    )
    const other = plan({ ...build, 'vm-size': 'Standard_D4s_v5' })
    if (first.source.mode !== 'build' || again.source.mode !== 'build' || other.source.mode !== 'build')
      throw new Error('not build mode')
    expect(again.source.names).toEqual(first.source.names)
    expect(other.source.names.vm).not.toBe(first.source.names.vm)
    expect(first.source.names.vm).toBe(`vmimage-${first.owner.key.slice(0, 10)}-vm`)
    expect(first.source.names.computerName.length).toBeLessThanOrEqual(15)
  })

  it.each([
    [`${gallery}/images/ubuntu`, { kind: 'gallery-definition', definition: 'ubuntu' }],
    [
      `${gallery}/images/ubuntu/versions/1.2.3`,
      { kind: 'gallery-version', definition: 'ubuntu', version: '1.2.3' }
    ],
    [
      `/subscriptions/${SUB}/resourceGroups/images-rg/providers/Microsoft.Compute/images/base`,
      { kind: 'managed-image', image: { subscriptionId: SUB, resourceGroup: 'images-rg', name: 'base' } }
    ]
  ])('reads the ID %s', (id, expected) => {
    const p = plan({ ...build, 'base-image': id })
    if (p.source.mode !== 'build') throw new Error('not build mode')
    expect(p.source.baseImage).toMatchObject(expected)
  })

  it('reads scripts in order, the inline script as given, the subnet and the options', () => {
    const subnet = `/subscriptions/${SUB}/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/hub/subnets/builders`
    const p = plan({
      ...build,
      'customize-scripts': 'scripts/one.sh\n\n  scripts/two.sh  \n',
      customize: 'echo hello\n',
      'subnet-id': subnet,
      'os-disk-size-gb': '64',
      'keep-build-vm': 'On-Failure',
      'security-type': 'standard'
    })
    if (p.source.mode !== 'build') throw new Error('not build mode')
    expect(p.source.customizeScripts).toEqual(['scripts/one.sh', 'scripts/two.sh'])
    expect(p.source.customize).toBe('echo hello\n')
    expect(p.source.subnet).toEqual({
      vnet: { subscriptionId: SUB, resourceGroup: 'net-rg', name: 'hub' },
      subnet: 'builders'
    })
    expect(p.source.osDiskSizeGb).toBe(64)
    expect(p.source.keepBuildVm).toBe('on-failure')
    expect(p.source.securityType).toBe('Standard')
  })

  it('takes the subscription from a full base-image ID', () => {
    const p = plan({ ...build, 'subscription-id': '', 'base-image': `${gallery}/images/ubuntu` })
    expect(p.subscriptionId).toBe(SUB)
  })

  it.each(badBuildInputCases(SUB, build))('refuses %s, naming the input', (_name, inputs, input) => {
    let error: unknown
    try {
      plan(inputs)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).input).toBe(input)
  })
})
