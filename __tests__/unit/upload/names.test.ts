import { describe, expect, it } from '@jest/globals'
import { uploadDiskName } from '../../../src/upload/managed-disk-destination.js'
import { uploadBlobName } from '../../../src/upload/storage-account-destination.js'
import { shareConcurrency } from '../../../src/upload/upload-image.js'

/** Azure's rule for managed disk names: 1–80 characters of letters, digits, _ . - */
const DISK_NAME = /^[A-Za-z0-9_.-]{1,80}$/

describe('uploadDiskName', () => {
  it('names the disk after the image, the run and the LUN', () => {
    expect(uploadDiskName('ubuntu-golden', '12345678901', 'os')).toBe(
      'ubuntu-golden-upload-12345678901-os'
    )
    expect(uploadDiskName('ubuntu-golden', '12345678901', 2)).toBe(
      'ubuntu-golden-upload-12345678901-lun2'
    )
  })

  it('shortens a long image name to 80 characters, keeping the run and LUN', () => {
    const base = 'i'.repeat(80)
    for (const lun of ['os', 0, 63] as const) {
      const name = uploadDiskName(base, '98765432109', lun)
      expect(name).toHaveLength(80)
      expect(name).toMatch(DISK_NAME)
      expect(name.endsWith(`-upload-98765432109-${lun === 'os' ? 'os' : `lun${lun}`}`)).toBe(true)
    }
  })

  it('keeps names of valid image names valid, and distinct per LUN', () => {
    const names = ['os', 0, 1, 15].map(lun =>
      uploadDiskName('My_Image.v1-' + 'x'.repeat(70), '1', lun as 'os' | number)
    )
    for (const n of names) expect(n).toMatch(DISK_NAME)
    expect(new Set(names).size).toBe(4)
  })
})

describe('uploadBlobName', () => {
  it('names the page blob after the image, the run and the LUN, as a .vhd', () => {
    expect(uploadBlobName('img', '12345678901', 'os')).toBe('img-12345678901-os.vhd')
    expect(uploadBlobName('img', '12345678901', 4)).toBe('img-12345678901-lun4.vhd')
  })

  it('stays a valid blob name (at most 1,024 characters) for an 80-character image name', () => {
    const name = uploadBlobName('i'.repeat(80), '98765432109', 63)
    expect(name.length).toBeLessThanOrEqual(1024)
    expect(name).toMatch(/^[A-Za-z0-9_.-]+\.vhd$/)
  })
})

describe('shareConcurrency', () => {
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

  it('gives a single disk the whole budget', () => {
    expect(shareConcurrency(8, [123])).toEqual([8])
  })

  it('splits in proportion to the bytes to read', () => {
    expect(shareConcurrency(8, [6, 1, 1])).toEqual([6, 1, 1])
    expect(shareConcurrency(16, [3, 1])).toEqual([12, 4])
    expect(shareConcurrency(10, [1, 1])).toEqual([5, 5])
  })

  it('gives every disk at least one writer, taking them from the largest share', () => {
    const shares = shareConcurrency(4, [1000, 1, 1, 1])
    expect(shares).toEqual([1, 1, 1, 1])
    expect(shareConcurrency(8, [1000, 1])).toEqual([7, 1])
  })

  it('gives equal shares when every weight is zero', () => {
    expect(shareConcurrency(4, [0, 0])).toEqual([2, 2])
  })

  it('hands out the whole budget when there are no more disks than writers', () => {
    expect(shareConcurrency(8, [1, 1, 1])).toEqual([3, 3, 2])
    expect(shareConcurrency(8, [5, 3, 1])).toEqual([4, 3, 1])
    for (const weights of [
      [1, 2, 3, 4, 5],
      [7, 7, 7],
      [1e12, 2e9, 3e3],
      [0, 5]
    ]) {
      expect(sum(shareConcurrency(16, weights))).toBe(16)
    }
  })

  it('never exceeds the budget when it can give everyone one', () => {
    const cases: Array<[number, number[]]> = [
      [8, [5, 3, 1]],
      [16, [1, 2, 3, 4, 5]],
      [4, [100, 0, 0, 0]],
      [32, [7, 7, 7]],
      [3, [1, 1, 1]],
      [64, [1e12, 2e9, 3e3]]
    ]
    for (const [total, weights] of cases) {
      const shares = shareConcurrency(total, weights)
      expect(shares).toHaveLength(weights.length)
      expect(sum(shares)).toBeLessThanOrEqual(total)
      for (const s of shares) {
        expect(Number.isInteger(s)).toBe(true)
        expect(s).toBeGreaterThanOrEqual(1)
      }
      // A heavier disk never gets fewer writers than a lighter one.
      for (let i = 0; i < weights.length; i++) {
        for (let j = 0; j < weights.length; j++) {
          if (weights[i] > weights[j]) expect(shares[i]).toBeGreaterThanOrEqual(shares[j])
        }
      }
    }
  })

  it('gives one writer each when there are more disks than the budget', () => {
    expect(shareConcurrency(2, [5, 5, 5])).toEqual([1, 1, 1])
  })
})
