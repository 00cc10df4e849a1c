import { describe, expect, it } from '@jest/globals'
import {
  autoVersion,
  compareVersions,
  isValidVersion
} from '../../../src/targets/version-number.js'

describe('isValidVersion', () => {
  it.each(['0.0.0', '1.0.0', '2026.1126.42', '2147483647.2147483647.2147483647', '10.20.30'])(
    'accepts %s',
    v => {
      expect(isValidVersion(v)).toBe(true)
    }
  )

  it.each([
    '',
    '1',
    '1.0',
    '1.0.0.0',
    '1..0',
    '.1.0',
    '1.0.',
    'v1.0.0',
    '1.0.0-beta',
    '-1.0.0',
    '1.+2.3',
    '1.0.x',
    ' 1.0.0',
    '1.0.0 ',
    '1.2e3.0',
    '2147483648.0.0',
    '0.0.2147483648',
    '99999999999.0.0',
    '00000000001.0.0'
  ])('refuses %j', v => {
    expect(isValidVersion(v)).toBe(false)
  })

  it('accepts leading zeros up to 10 digits, as long as the value fits 32 bits', () => {
    // The implemented policy: digits only, 1–10 of them, value ≤ 2147483647; zeros are not refused.
    expect(isValidVersion('01.02.03')).toBe(true)
    expect(isValidVersion('0002147483.0.0')).toBe(true)
    expect(isValidVersion('02147483647.0.0')).toBe(false)
  })
})

describe('autoVersion', () => {
  it('is <UTC year>.<month*100+day>.<run number>', () => {
    expect(autoVersion(new Date('2026-11-26T10:00:00Z'), 42)).toBe('2026.1126.42')
  })

  it('on 1 January and 31 December', () => {
    expect(autoVersion(new Date('2027-01-01T00:00:00Z'), 1)).toBe('2027.101.1')
    expect(autoVersion(new Date('2026-12-31T23:59:59.999Z'), 7)).toBe('2026.1231.7')
  })

  it('uses the UTC date, not the local one', () => {
    // 23:30 on 31 December in New York is already 1 January in UTC.
    expect(autoVersion(new Date('2026-12-31T23:30:00-05:00'), 3)).toBe('2027.101.3')
    // 00:30 on 1 January in Tokyo is still 31 December in UTC.
    expect(autoVersion(new Date('2027-01-01T00:30:00+09:00'), 3)).toBe('2026.1231.3')
  })

  it('uses 0 for a run number that is not a finite number', () => {
    expect(autoVersion(new Date('2026-03-05T00:00:00Z'), Number.NaN)).toBe('2026.305.0')
    expect(autoVersion(new Date('2026-03-05T00:00:00Z'), Infinity)).toBe('2026.305.0')
  })

  it('gives valid versions that order by date, then run number', () => {
    const a = autoVersion(new Date('2026-09-30T00:00:00Z'), 999)
    const b = autoVersion(new Date('2026-10-01T00:00:00Z'), 1)
    const c = autoVersion(new Date('2026-10-01T00:00:00Z'), 2)
    const d = autoVersion(new Date('2027-01-01T00:00:00Z'), 1)
    for (const v of [a, b, c, d]) expect(isValidVersion(v)).toBe(true)
    expect([d, b, a, c].sort(compareVersions)).toEqual([a, b, c, d])
  })
})

describe('compareVersions', () => {
  it('orders numerically, part by part', () => {
    expect(compareVersions('1.10.0', '1.2.0')).toBeGreaterThan(0)
    expect(compareVersions('1.2.0', '1.10.0')).toBeLessThan(0)
    expect(compareVersions('2.0.0', '1.999.999')).toBeGreaterThan(0)
    expect(compareVersions('1.0.10', '1.0.9')).toBeGreaterThan(0)
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0)
  })

  it('treats leading zeros as the same number', () => {
    expect(compareVersions('1.02.3', '1.2.3')).toBe(0)
  })

  it('sorts a list of versions', () => {
    expect(
      ['1.10.0', '1.2.0', '0.0.1', '2026.1126.42', '1.2.10', '1.2.9'].sort(compareVersions)
    ).toEqual(['0.0.1', '1.2.0', '1.2.9', '1.2.10', '1.10.0', '2026.1126.42'])
  })

  it('handles the 32-bit maximum', () => {
    expect(compareVersions('2147483647.0.0', '2147483646.2147483647.2147483647')).toBeGreaterThan(0)
  })
})
