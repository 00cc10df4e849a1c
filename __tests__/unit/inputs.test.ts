import { describe, expect, it } from '@jest/globals'
import { InputError, readPlan, type PlanContext } from '../../src/inputs.js'
import { actionDefaults } from '../support/action-runner.js'
import { badInputCases } from '../support/bad-inputs.js'

const SUB = '11111111-2222-3333-4444-555555555555'
const context: PlanContext = {
  now: new Date('2026-11-26T10:00:00Z'),
  run: {
    repository: 'contoso/golden-images',
    sha: 'abc',
    ref: 'refs/heads/main',
    workflow: 'nightly',
    runId: '777',
    runAttempt: 2,
    runNumber: 42
  }
}

/** Inputs as the runner passes them: action.yml defaults, overridden by the step's `with:`. */
function plan(inputs: Record<string, string>) {
  const all: Record<string, string> = { ...actionDefaults(), ...inputs }
  return readPlan(name => all[name] ?? '', context)
}

const capture = {
  'subscription-id': SUB,
  'resource-group': 'build-rg',
  'source-vm': 'golden',
  'image-name': 'img'
}
const upload = {
  'subscription-id': SUB,
  'resource-group': 'build-rg',
  vhd: '/tmp/disk.vhd',
  'os-type': 'Linux',
  'image-name': 'img'
}
const cases = badInputCases(SUB, capture, upload)

function failure(inputs: Record<string, string>): InputError {
  try {
    plan(inputs)
  } catch (e) {
    expect(e).toBeInstanceOf(InputError)
    return e as InputError
  }
  throw new Error('expected an InputError')
}

describe('readPlan: capture', () => {
  it('builds the capture plan with defaults and provenance tags', () => {
    const p = plan({ ...capture, tags: 'team=infra\ncost-center = 42' })
    expect(p.source).toEqual({
      mode: 'capture',
      vm: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'golden' },
      generalize: true,
      deprovision: 'auto',
      backupSnapshot: false,
      deleteSourceVm: false
    })
    expect(p.managedImage).toEqual({
      image: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'img' },
      overwrite: false
    })
    expect(p.tags).toEqual({
      team: 'infra',
      'cost-center': '42',
      'github-repository': 'contoso/golden-images',
      'github-sha': 'abc',
      'github-ref': 'refs/heads/main',
      'github-workflow': 'nightly',
      'github-run-id': '777',
      'github-run-attempt': '2'
    })
    expect(p.timeoutMinutes).toBe(120)
    expect(p.dryRun).toBe(false)
    expect(p.connection).toMatchObject({ authType: 'auto', environment: 'AzureCloud' })
  })

  it('takes subscription and group from a full VM resource ID', () => {
    const p = plan({
      'source-vm': `/subscriptions/${SUB}/resourceGroups/vm-rg/providers/Microsoft.Compute/virtualMachines/golden`,
      'image-name': 'img'
    })
    expect(p.subscriptionId).toBe(SUB)
    expect(p.resourceGroup).toBe('vm-rg')
  })

  it('matches enum values and booleans case-insensitively', () => {
    const p = plan({
      ...capture,
      'auth-type': 'Azure-CLI',
      environment: 'azureusgovernment',
      deprovision: 'TRUE'
    })
    expect(p.connection.authType).toBe('azure-cli')
    expect(p.connection.environment).toBe('AzureUSGovernment')
    expect(p.source.mode === 'capture' && p.source.deprovision).toBe(true)
  })

  it.each([
    ['auto', 'auto'],
    ['AUTO', 'auto'],
    ['false', false],
    ['true', true]
  ] as const)("reads deprovision '%s'", (value, expected) => {
    const p = plan({ ...capture, deprovision: value })
    expect(p.source.mode === 'capture' && p.source.deprovision).toBe(expected)
  })

  it('refuses a deprovision value other than auto, true or false', () => {
    expect(failure({ ...capture, deprovision: 'yes' }).message).toBe(
      "Input 'deprovision': expected one of auto | true | false, got 'yes'."
    )
  })

  it("accepts 'generalize: false' with deprovision left at auto (nothing to deprovision)", () => {
    const p = plan({
      ...capture,
      generalize: 'false',
      'image-name': '',
      gallery: 'g',
      'gallery-image': 'd'
    })
    expect(p.source.mode === 'capture' && p.source.deprovision).toBe('auto')
  })

  it('omits provenance tags when asked', () => {
    // github-run-id stays: cleanup and re-run attempts recognise the run's own resources by it.
    expect(plan({ ...capture, 'provenance-tags': 'false', tags: 'a=b' }).tags).toEqual({
      a: 'b',
      'github-run-id': '777'
    })
  })

  it('normalises the location like Azure', () => {
    expect(plan({ ...capture, location: 'West Europe' }).location).toBe('westeurope')
  })
})

describe('readPlan: upload', () => {
  it('builds the upload plan with contract defaults', () => {
    const p = plan({ ...upload, 'data-vhds': '/tmp/d0.vhd\n\n/tmp/d1.raw\n' })
    expect(p.source).toEqual({
      mode: 'upload',
      osDiskPath: '/tmp/disk.vhd',
      dataDiskPaths: ['/tmp/d0.vhd', '/tmp/d1.raw'],
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V1',
      architecture: 'x64',
      securityType: 'Standard',
      destination: { kind: 'managed-disk', diskSku: 'Standard_LRS' },
      concurrency: 8,
      keepUpload: false
    })
  })

  it('resolves a storage account destination', () => {
    const p = plan({ ...upload, 'upload-via': 'storage-account', 'storage-account': 'imagesstore' })
    expect(p.source.mode === 'upload' && p.source.destination).toEqual({
      kind: 'storage-account',
      account: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'imagesstore' },
      container: 'vhds'
    })
  })
})

describe('readPlan: gallery', () => {
  const gallery = {
    ...capture,
    'image-name': '',
    gallery: 'golden_gallery',
    'gallery-image': 'ubuntu'
  }

  it('computes the auto version from the UTC date and run number', () => {
    const p = plan(gallery)
    expect(p.gallery?.version).toEqual({ kind: 'auto', value: '2026.1126.42' })
    expect(p.gallery).toMatchObject({
      publisher: 'contoso',
      offer: 'golden-images',
      sku: 'ubuntu',
      keepVersions: 0
    })
  })

  it('parses target regions', () => {
    const p = plan({
      ...gallery,
      'target-regions': 'East US=2, westeurope=1=Standard_ZRS\nnorth europe'
    })
    expect(p.gallery?.targetRegions).toEqual([
      { name: 'eastus', replicas: 2 },
      { name: 'westeurope', replicas: 1, storageAccountType: 'Standard_ZRS' },
      { name: 'northeurope' }
    ])
  })

  it('allows a specialized capture into a gallery', () => {
    const p = plan({ ...gallery, generalize: 'false' })
    expect(p.source.mode === 'capture' && p.source.generalize).toBe(false)
  })

  it('accepts Shallow replication for one region and one replica', () => {
    expect(plan({ ...gallery, 'replication-mode': 'shallow' }).gallery?.replicationMode).toBe(
      'Shallow'
    )
  })
})

describe('readPlan: bad inputs name the input', () => {
  it.each(cases)('%s', (_name, inputs, input) => {
    const error = failure(inputs)
    expect(error.input).toBe(input)
    expect(error.message).toContain(`'${input}'`)
  })
})

describe('readPlan: sign-in defaults as users of azure/login expect', () => {
  const OTHER = '99999999-8888-7777-6666-555555555555'
  const withDefaults = (
    inputs: Record<string, string>,
    env: Record<string, string>,
    cliSubscription?: () => string | undefined
  ) => {
    const all: Record<string, string> = { ...actionDefaults(), ...inputs }
    return readPlan(name => all[name] ?? '', {
      ...context,
      defaults: { env, cliSubscription }
    })
  }
  const noSubscription = {
    'resource-group': 'build-rg',
    'source-vm': 'golden',
    'image-name': 'img'
  }

  it('takes client-id, tenant-id and client-secret from AZURE_* when the inputs are unset', () => {
    const p = withDefaults(capture, {
      AZURE_CLIENT_ID: SUB,
      AZURE_TENANT_ID: 'contoso.onmicrosoft.com',
      AZURE_CLIENT_SECRET: 's3cret'
    })
    expect(p.connection).toMatchObject({
      clientId: SUB,
      tenantId: 'contoso.onmicrosoft.com',
      clientSecret: 's3cret'
    })
  })

  it('takes the subscription from a full resource ID, then AZURE_SUBSCRIPTION_ID, then the CLI session', () => {
    let asked = 0
    const cli = () => {
      asked++
      return OTHER
    }
    const vmId = `/subscriptions/${SUB}/resourceGroups/vm-rg/providers/Microsoft.Compute/virtualMachines/golden`
    expect(
      withDefaults(
        { 'source-vm': vmId, 'image-name': 'img' },
        { AZURE_SUBSCRIPTION_ID: OTHER },
        cli
      ).subscriptionId
    ).toBe(SUB)
    expect(withDefaults(noSubscription, { AZURE_SUBSCRIPTION_ID: SUB }, cli).subscriptionId).toBe(
      SUB
    )
    expect(asked).toBe(0)
    expect(withDefaults(noSubscription, {}, cli).subscriptionId).toBe(OTHER)
    expect(asked).toBe(1)
    expect(
      withDefaults({ ...noSubscription, 'subscription-id': SUB }, {}, cli).subscriptionId
    ).toBe(SUB)
    expect(asked).toBe(1)
  })

  it('says where a subscription can come from when none does', () => {
    try {
      withDefaults(
        { ...noSubscription, 'source-vm': '', vhd: '/tmp/x.vhd', 'os-type': 'Linux' },
        {},
        () => undefined
      )
      throw new Error('expected an InputError')
    } catch (e) {
      expect((e as Error).message).toBe(
        "Input 'subscription-id': is required: set it, or AZURE_SUBSCRIPTION_ID, or sign in with azure/login first (its subscription is used), or give 'source-vm' as a full resource ID."
      )
    }
  })

  it('names the environment variable a bad default came from', () => {
    expect(() => withDefaults(noSubscription, { AZURE_SUBSCRIPTION_ID: 'nope' })).toThrow(
      "Input 'subscription-id': expected a GUID, got 'nope' (from AZURE_SUBSCRIPTION_ID)."
    )
  })

  it.each([
    ['SERVICE_PRINCIPAL', { 'client-secret': 'x' }, 'client-secret'],
    ['service_principal', {}, 'oidc'],
    ['IDENTITY', {}, 'managed-identity'],
    ['Identity', {}, 'managed-identity']
  ] as const)("accepts azure/login's auth-type %s", (authType, extra, expected) => {
    const p = plan({
      ...capture,
      'auth-type': authType,
      'client-id': SUB,
      'tenant-id': SUB,
      ...extra
    })
    expect(p.connection.authType).toBe(expected)
  })

  it('SERVICE_PRINCIPAL needs the app registration like oidc does', () => {
    expect(failure({ ...capture, 'auth-type': 'SERVICE_PRINCIPAL' }).message).toBe(
      "Input 'client-id': is required with auth-type 'oidc'."
    )
  })
})
