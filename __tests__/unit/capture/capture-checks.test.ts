import { describe, expect, it } from '@jest/globals'
import { captureProblems, decideDeprovision } from '../../../src/capture/capture-checks.js'
import type { VmFacts } from '../../../src/capture/vm-facts.js'
import type { CaptureSource, Plan } from '../../../src/plan.js'
import { galleryTarget, run } from '../targets/gallery-fixtures.js'

const SUB = '11111111-2222-3333-4444-555555555555'

const source = (over: Partial<CaptureSource> = {}): CaptureSource => ({
  mode: 'capture',
  vm: { subscriptionId: SUB, resourceGroup: 'rg', name: 'golden' },
  generalize: true,
  deprovision: false,
  backupSnapshot: false,
  deleteSourceVm: false,
  ...over
})

function plan(over: Partial<Plan> = {}): Plan {
  return {
    connection: { authType: 'auto', environment: 'AzureCloud' },
    subscriptionId: SUB,
    resourceGroup: 'rg',
    source: source(),
    managedImage: {
      image: { subscriptionId: SUB, resourceGroup: 'rg', name: 'img' },
      overwrite: false
    },
    tags: {},
    run,
    timeoutMinutes: 60,
    dryRun: false,
    ...over
  }
}

const facts = (over: Partial<VmFacts> = {}): VmFacts => ({
  id: 'vm-id',
  name: 'golden',
  location: 'eastus',
  osType: 'Linux',
  hyperVGeneration: 'V2',
  architecture: 'x64',
  securityType: 'Standard',
  powerState: 'running',
  generalized: false,
  disks: [],
  tags: {},
  ...over
})

const galleryOnly = (): Plan => plan({ managedImage: undefined, gallery: galleryTarget() })

describe('captureProblems', () => {
  it('finds nothing wrong with a Standard VM captured to a managed image in its own region', () => {
    expect(captureProblems(plan(), source(), facts())).toEqual([])
    expect(captureProblems(plan({ location: 'eastus' }), source(), facts())).toEqual([])
  })

  it('refuses a managed image of an Arm64 VM, pointing to a gallery; a gallery-only capture is fine', () => {
    const arm = facts({ architecture: 'Arm64' })
    const problems = captureProblems(plan(), source(), arm)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/Arm64.*OperationNotAllowed.*'gallery'.*remove 'image-name'/)
    expect(captureProblems(galleryOnly(), source(), arm)).toEqual([])
  })

  it.each(['TrustedLaunch', 'ConfidentialVM'] as const)(
    'refuses a managed image of a %s VM, pointing at the gallery',
    securityType => {
      const problems = captureProblems(plan(), source(), facts({ securityType }))
      expect(problems).toHaveLength(1)
      expect(problems[0]).toContain(`uses security type ${securityType}`)
      expect(problems[0]).toContain('OperationNotAllowed')
      expect(problems[0]).toContain("set 'gallery' and 'gallery-image' and remove 'image-name'")
    }
  )

  it.each(['TrustedLaunch', 'ConfidentialVM'] as const)(
    'accepts a %s VM published to a gallery only',
    securityType => {
      expect(captureProblems(galleryOnly(), source(), facts({ securityType }))).toEqual([])
    }
  )

  it('refuses a location other than the VM’s region', () => {
    const problems = captureProblems(plan({ location: 'westeurope' }), source(), facts())
    expect(problems).toEqual([
      "'location' is westeurope but VM 'golden' is in eastus: an image is created in its source's region. " +
        "Remove 'location', or replicate a gallery version there with 'target-regions'."
    ])
  })

  it.each(['stopped', 'deallocated', 'starting', 'unknown'] as const)(
    'refuses deprovision of a VM that is %s',
    powerState => {
      const problems = captureProblems(plan(), source({ deprovision: true }), facts({ powerState }))
      expect(problems).toHaveLength(1)
      expect(problems[0]).toContain("'deprovision: true'")
      expect(problems[0]).toContain(`but it is ${powerState}`)
      expect(problems[0]).toContain('Start the VM first')
    }
  )

  it('accepts deprovision of a running VM', () => {
    expect(captureProblems(plan(), source({ deprovision: true }), facts())).toEqual([])
  })

  it('accepts deprovision of a stopped VM that is already generalized', () => {
    expect(
      captureProblems(
        plan(),
        source({ deprovision: true }),
        facts({ powerState: 'deallocated', generalized: true })
      )
    ).toEqual([])
  })

  it('refuses generalize: false on a VM that is already generalized', () => {
    const problems = captureProblems(
      plan(),
      source({ generalize: false }),
      facts({ generalized: true, powerState: 'deallocated' })
    )
    expect(problems).toEqual([
      "VM 'golden' is already generalized, so it cannot be captured as specialized ('generalize: false'). Set 'generalize: true'."
    ])
  })

  it('accepts generalize: false on a VM that is not generalized', () => {
    expect(captureProblems(plan(), source({ generalize: false }), facts())).toEqual([])
  })

  it('reports every problem at once, in order', () => {
    const problems = captureProblems(
      plan({ location: 'westus' }),
      source({ deprovision: true, generalize: false }),
      facts({ securityType: 'TrustedLaunch', powerState: 'stopped' })
    )
    expect(problems).toHaveLength(3)
    expect(problems[0]).toContain('security type TrustedLaunch')
    expect(problems[1]).toContain("'location' is westus")
    expect(problems[2]).toContain("'deprovision: true'")
  })
})

describe("decideDeprovision ('auto' is the default)", () => {
  it('deprovisions a running VM that is to be generalized', () => {
    expect(decideDeprovision(source({ deprovision: 'auto' }), facts())).toEqual({ run: true })
  })

  it.each(['stopped', 'deallocated', 'stopping', 'deallocating'] as const)(
    'goes on with a warning for a VM that is %s',
    powerState => {
      const linux = decideDeprovision(source({ deprovision: 'auto' }), facts({ powerState }))
      expect(linux.run).toBe(false)
      expect(linux.warning).toContain(`VM 'golden' is ${powerState}`)
      expect(linux.warning).toContain('waagent -deprovision+user')
      expect(linux.warning).toContain('must have been generalized already')
      const windows = decideDeprovision(
        source({ deprovision: 'auto' }),
        facts({ powerState, osType: 'Windows' })
      )
      expect(windows.warning).toContain('Sysprep /generalize')
    }
  )

  it('does nothing for a VM Azure already marks generalized, or a specialized capture', () => {
    expect(
      decideDeprovision(
        source({ deprovision: 'auto' }),
        facts({ generalized: true, powerState: 'deallocated' })
      )
    ).toEqual({ run: false })
    expect(decideDeprovision(source({ deprovision: 'auto', generalize: false }), facts())).toEqual({
      run: false
    })
  })

  it("follows an explicit 'true' or 'false' without a warning", () => {
    expect(decideDeprovision(source({ deprovision: true }), facts())).toEqual({ run: true })
    expect(decideDeprovision(source({ deprovision: false }), facts())).toEqual({ run: false })
    expect(
      decideDeprovision(source({ deprovision: false }), facts({ powerState: 'stopped' }))
    ).toEqual({ run: false })
  })

  it.each(['starting', 'unknown'] as const)(
    "refuses to guess for a VM that is %s under 'auto'",
    powerState => {
      const problems = captureProblems(
        plan(),
        source({ deprovision: 'auto' }),
        facts({ powerState })
      )
      expect(problems).toHaveLength(1)
      expect(problems[0]).toContain(`VM 'golden' is ${powerState}`)
      expect(problems[0]).toContain("set 'deprovision' to 'true' or 'false'")
    }
  )
})
