import { describe, expect, it } from '@jest/globals'
import { pendingCopy, snapshotName } from '../../../src/capture/backup-snapshots.js'
import type { VmDisk, VmFacts } from '../../../src/capture/vm-facts.js'

/** Azure's rule for snapshot names: 1–80 characters, letters, digits, _ . -, starting alphanumeric, ending alphanumeric or _. */
const VALID = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/

const vm = (name: string): VmFacts => ({
  id: '',
  name,
  location: 'eastus',
  osType: 'Linux',
  hyperVGeneration: 'V2',
  architecture: 'x64',
  securityType: 'Standard',
  powerState: 'running',
  generalized: false,
  disks: [],
  tags: {}
})
const os: VmDisk = { lun: 'os', id: 'os-id', name: 'osdisk' }
const lun = (n: number): VmDisk => ({ lun: n, id: `d${n}`, name: `d${n}` })

describe('snapshotName', () => {
  it('names the OS disk and data disks by LUN, run id and attempt', () => {
    expect(snapshotName(vm('golden'), os, '12345678901', 1)).toBe('golden-os-backup-12345678901-1')
    expect(snapshotName(vm('golden'), lun(0), '12345678901', 1)).toBe(
      'golden-lun0-backup-12345678901-1'
    )
    expect(snapshotName(vm('golden'), lun(63), '12345678901', 3)).toBe(
      'golden-lun63-backup-12345678901-3'
    )
  })

  it('differs between re-run attempts and between disks', () => {
    const names = new Set([
      snapshotName(vm('golden'), os, '9', 1),
      snapshotName(vm('golden'), os, '9', 2),
      snapshotName(vm('golden'), lun(0), '9', 1),
      snapshotName(vm('golden'), lun(1), '9', 1)
    ])
    expect(names.size).toBe(4)
  })

  it('shortens a long VM name to keep within 80 characters, keeping the suffix whole', () => {
    const long = 'a'.repeat(64)
    for (const disk of [os, lun(0), lun(63)]) {
      const name = snapshotName(vm(long), disk, '98765432109', 12)
      expect(name).toHaveLength(80)
      expect(name).toMatch(VALID)
      expect(name.endsWith(`-backup-98765432109-12`)).toBe(true)
    }
  })

  it('gives valid names for valid VM names', () => {
    for (const name of ['g', 'web_01', 'my.vm-name', 'x'.repeat(15), 'Z9'.repeat(32)]) {
      const result = snapshotName(vm(name), lun(7), '12345678901', 1)
      expect(result.length).toBeLessThanOrEqual(80)
      expect(result).toMatch(VALID)
    }
  })
})

describe('pendingCopy', () => {
  const disk = (sku?: string): VmDisk => ({
    lun: 'os',
    id: 'os-id',
    name: 'osdisk',
    ...(sku ? { sku } : {})
  })

  it('reports the background copy of a Premium SSD v2 or Ultra snapshot until it reaches 100', () => {
    expect(pendingCopy(disk('PremiumV2_LRS'), 0)).toMatch(
      /0% done \(PremiumV2_LRS\).*completionPercent reaches 100/
    )
    expect(pendingCopy(disk('UltraSSD_LRS'), undefined)).toMatch(/not reported yet/)
    expect(pendingCopy(disk('PremiumV2_LRS'), 100)).toBeUndefined()
  })

  it('says nothing for other disks, unless Azure reports a copy in progress', () => {
    expect(pendingCopy(disk('Premium_LRS'), undefined)).toBeUndefined()
    expect(pendingCopy(disk(), undefined)).toBeUndefined()
    expect(pendingCopy(disk('Premium_LRS'), 40)).toMatch(/40% done/)
  })
})
