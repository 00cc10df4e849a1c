/** Build mode's pure rules: versions, security type, image/size refusals, credential shapes, VM body. */
import { describe, expect, it } from '@jest/globals'
import { createPublicKey } from 'node:crypto'
import {
  generateAdminCredential,
  openSshRsaPublicKey,
  randomPassword
} from '../../../src/build/admin-credential.js'
import { compareVersions, newestVersion, securityOf } from '../../../src/build/base-image.js'
import type { BaseImageFacts } from '../../../src/build/base-image.js'
import { buildProblems, decideSecurity, type SizeFacts } from '../../../src/build/build-preflight.js'
import { buildVmBody } from '../../../src/build/build-vm.js'
import type { BuildSource } from '../../../src/plan.js'

const image: BaseImageFacts = {
  reference: { publisher: 'Canonical', offer: 'o', sku: 's', version: '1.0.0' },
  version: '1.0.0',
  provenance: 'Canonical:o:s:1.0.0',
  osType: 'Linux',
  hyperVGeneration: 'V2',
  architecture: 'x64',
  security: 'TrustedLaunchSupported'
}
const size: SizeFacts = {
  name: 'Standard_D2s_v5',
  architecture: 'x64',
  hyperVGenerations: ['V1', 'V2'],
  trustedLaunchDisabled: false
}
const settings = { vmSize: 'Standard_D2s_v5', osDiskSizeGb: undefined }

describe('versions', () => {
  it('compares part by part as numbers, not as strings', () => {
    expect(newestVersion(['24.04.202609100', '24.04.20261125', '24.04.202611250'])).toBe(
      '24.04.202611250'
    )
    expect(newestVersion(['1.9.0', '1.10.0', '1.2.0'])).toBe('1.10.0')
    expect(compareVersions('1.0', '1.0.0')).toBe(0)
    expect(newestVersion([])).toBeUndefined()
  })
})

describe('securityOf', () => {
  it.each([
    [undefined, 'V2', 'Standard'],
    [[{ name: 'SecurityType', value: 'TrustedLaunchSupported' }], 'V2', 'TrustedLaunchSupported'],
    [[{ name: 'SecurityType', value: 'TrustedLaunchAndConfidentialVmSupported' }], 'V2', 'TrustedLaunchSupported'],
    [[{ name: 'SecurityType', value: 'TrustedLaunchSupported' }], 'V1', 'Standard'],
    [[{ name: 'securitytype', value: 'TrustedLaunch' }], 'V2', 'TrustedLaunch'],
    [[{ name: 'SecurityType', value: 'ConfidentialVM' }], 'V2', 'ConfidentialVM']
  ] as const)('%j on %s is %s', (features, generation, expected) => {
    expect(securityOf(features ? [...features] : undefined, generation)).toBe(expected)
  })
})

describe('decideSecurity (contract: security-type, else Trusted Launch when supported and gallery only, else Standard)', () => {
  it('Trusted Launch for a supporting image into a gallery only', () => {
    expect(decideSecurity(undefined, image, false)).toEqual({ vm: 'TrustedLaunch', image: 'TrustedLaunch' })
  })
  it('Standard when a managed image is a target', () => {
    expect(decideSecurity(undefined, image, true)).toEqual({ vm: 'Standard', image: 'Standard' })
  })
  it('Standard for an image without Trusted Launch', () => {
    expect(decideSecurity(undefined, { ...image, security: 'Standard' }, false)).toEqual({
      vm: 'Standard',
      image: 'Standard'
    })
  })
  it('security-type as given', () => {
    expect(decideSecurity('Standard', image, false)).toEqual({ vm: 'Standard', image: 'Standard' })
    expect(decideSecurity('TrustedLaunchSupported', image, false)).toEqual({
      vm: 'TrustedLaunch',
      image: 'TrustedLaunchSupported'
    })
  })
  it('refuses Trusted Launch on a Gen1 image', () => {
    const d = decideSecurity('TrustedLaunch', { ...image, hyperVGeneration: 'V1' }, false)
    expect('refusal' in d && d.refusal).toMatch(/generation 2/)
  })
  it('refuses a Trusted-Launch-only image into a managed image, and as Standard', () => {
    const only = { ...image, security: 'TrustedLaunch' as const }
    expect('refusal' in decideSecurity(undefined, only, true)).toBe(true)
    expect('refusal' in decideSecurity('Standard', only, false)).toBe(true)
  })
  it('refuses confidential images', () => {
    expect('refusal' in decideSecurity(undefined, { ...image, security: 'ConfidentialVM' }, false)).toBe(true)
  })
})

describe('decideSecurity with an existing gallery definition (chaos seeds 2071389145, 773159279)', () => {
  const def = (securityType: string) => ({ name: 'golden', securityType })
  it('Standard for a Standard definition, though the image supports Trusted Launch', () => {
    expect(decideSecurity(undefined, image, false, def('Standard'))).toEqual({ vm: 'Standard', image: 'Standard' })
  })
  it('Trusted Launch for a TrustedLaunch definition', () => {
    expect(decideSecurity(undefined, image, false, def('TrustedLaunch'))).toEqual({
      vm: 'TrustedLaunch',
      image: 'TrustedLaunch'
    })
  })
  it('Standard for a TrustedLaunchSupported definition (Azure takes no VM source for it, only a managed image of a Standard VM)', () => {
    expect(decideSecurity(undefined, image, true, def('TrustedLaunchSupported'))).toEqual({ vm: 'Standard', image: 'Standard' })
    expect(decideSecurity(undefined, image, false, def('TrustedLaunchSupported'))).toEqual({ vm: 'Standard', image: 'Standard' })
  })
  it('refuses a security-type the definition cannot take, naming the input and the definition', () => {
    for (const [given, securityType] of [
      ['TrustedLaunch', 'Standard'],
      ['TrustedLaunchSupported', 'Standard'],
      ['Standard', 'TrustedLaunch']
    ] as const) {
      const d = decideSecurity(given, image, false, def(securityType))
      expect('refusal' in d && d.refusal).toMatch(/^Input 'security-type': .*definition 'golden'/)
    }
  })
  it('refuses a Trusted-Launch-only image into a Standard definition', () => {
    const d = decideSecurity(undefined, { ...image, security: 'TrustedLaunch' }, false, def('Standard'))
    expect('refusal' in d && d.refusal).toMatch(/definition 'golden' has security type Standard/)
  })
})

describe('buildProblems', () => {
  it('none for a matching image and size', () => {
    expect(buildProblems(settings, image, size, 'TrustedLaunch', false)).toEqual([])
  })
  it('an Arm64 image with an x64 size', () => {
    const [p] = buildProblems(settings, { ...image, architecture: 'Arm64' }, size, 'Standard', false)
    expect(p).toMatch(/^Input 'vm-size': .* x64 size, but the base image is Arm64/)
  })
  it('a size without the image generation, a Trusted Launch VM on a size without it', () => {
    const v1only = { ...size, hyperVGenerations: ['V1' as const], trustedLaunchDisabled: true }
    expect(buildProblems(settings, image, v1only, 'TrustedLaunch', false)).toHaveLength(2)
  })
  it('an Arm64 image into a managed image', () => {
    const arm = { ...image, architecture: 'Arm64' as const }
    const problems = buildProblems(settings, arm, { ...size, architecture: 'Arm64' }, 'Standard', true)
    expect(problems).toEqual([expect.stringMatching(/^Input 'image-name'/)])
  })
  it('an OS disk smaller than the image', () => {
    const problems = buildProblems({ ...settings, osDiskSizeGb: 16 }, { ...image, osDiskSizeGb: 30 }, size, 'Standard', false)
    expect(problems).toEqual([expect.stringMatching(/^Input 'os-disk-size-gb'/)])
  })
})

describe('admin credential', () => {
  it('an OpenSSH ssh-rsa line Node reads back as the same key', () => {
    const cred = generateAdminCredential('Linux', () => {
      throw new Error('nothing to mask on Linux: the private key never leaves')
    })
    if (cred.osType !== 'Linux') throw new Error('Linux expected')
    const [type, blob, comment] = cred.sshPublicKey.split(' ')
    expect(type).toBe('ssh-rsa')
    expect(comment).toBe('azure-vm-image-build')
    // Node parses an OpenSSH public key only as a JWK round trip; compare n and e from the blob.
    const bytes = Buffer.from(blob, 'base64')
    const read = (at: number): [Buffer, number] => {
      const len = bytes.readUInt32BE(at)
      return [bytes.subarray(at + 4, at + 4 + len), at + 4 + len]
    }
    const [name, a] = read(0)
    const [e, b] = read(a)
    const [n] = read(b)
    expect(name.toString()).toBe('ssh-rsa')
    const key = createPublicKey({
      key: { kty: 'RSA', e: e.toString('base64url'), n: n.subarray(n[0] === 0 ? 1 : 0).toString('base64url') },
      format: 'jwk'
    })
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(3072)
  })
  it('keeps a high first bit positive with a leading zero (mpint)', () => {
    const line = openSshRsaPublicKey({ e: Buffer.from([1, 0, 1]).toString('base64url'), n: Buffer.from([0x80, 1]).toString('base64url') }, 'c')
    const bytes = Buffer.from(line.split(' ')[1], 'base64')
    // 'ssh-rsa' (4+7), e (4+3), n (4+3 with the 0 byte)
    expect(bytes.readUInt32BE(18)).toBe(3)
    expect(bytes[22]).toBe(0)
  })
  it('a Windows password within Azure rules, masked before it is returned', () => {
    const masked: string[] = []
    const cred = generateAdminCredential('Windows', s => masked.push(s))
    if (cred.osType !== 'Windows') throw new Error('Windows expected')
    expect(masked).toEqual([cred.password])
    for (let i = 0; i < 50; i++) {
      const p = randomPassword()
      expect(p.length).toBeGreaterThanOrEqual(12)
      expect(p.length).toBeLessThanOrEqual(123)
      for (const cls of [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/]) expect(p).toMatch(cls)
    }
    expect(randomPassword()).not.toBe(randomPassword())
  })
})

describe('buildVmBody', () => {
  const names = {
    vm: 'vmimage-abc-vm',
    computerName: 'vmimageabc',
    osDisk: 'vmimage-abc-osdisk',
    nic: 'vmimage-abc-nic',
    nsg: 'vmimage-abc-nsg',
    vnet: 'vmimage-abc-vnet',
    subnet: 'build'
  }
  const source: BuildSource = {
    mode: 'build',
    baseImage: { kind: 'marketplace', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
    vmSize: 'Standard_D2s_v5',
    customizeScripts: [],
    keepBuildVm: 'false',
    names
  }
  it('no public IP, disk and NIC deleted with the VM, the plan carried, Trusted Launch settings', () => {
    const body = buildVmBody(
      {
        settings: { ...source, osDiskSizeGb: 64 },
        location: 'westeurope',
        image: { ...image, plan: { name: 'n', publisher: 'p', product: 'o' } },
        credential: { osType: 'Linux', username: 'u', sshPublicKey: 'ssh-rsa AAAA c' },
        nicId: '/nic',
        securityType: 'TrustedLaunch'
      },
      { a: 'b' }
    )
    expect(body.plan).toEqual({ name: 'n', publisher: 'p', product: 'o' })
    expect(body.storageProfile?.osDisk).toMatchObject({ deleteOption: 'Delete', diskSizeGB: 64, name: names.osDisk })
    expect(body.networkProfile?.networkInterfaces).toEqual([{ id: '/nic', primary: true, deleteOption: 'Delete' }])
    expect(body.osProfile?.linuxConfiguration?.disablePasswordAuthentication).toBe(true)
    expect(body.osProfile?.adminPassword).toBeUndefined()
    expect(body.securityProfile).toEqual({
      securityType: 'TrustedLaunch',
      uefiSettings: { secureBootEnabled: true, vTpmEnabled: true }
    })
  })
})
