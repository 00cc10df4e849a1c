import { describe, expect, it } from '@jest/globals'
import { normaliseRegion } from '../../../src/azure/region.js'
import { parseTargetRegions, withSourceRegion } from '../../../src/targets/target-regions.js'

describe('normaliseRegion', () => {
  it('lower-cases and removes spaces, as Azure does', () => {
    expect(normaliseRegion('East US')).toBe('eastus')
    expect(normaliseRegion('East US 2')).toBe('eastus2')
    expect(normaliseRegion('  West  Europe\t')).toBe('westeurope')
    expect(normaliseRegion('northeurope')).toBe('northeurope')
    expect(normaliseRegion('')).toBe('')
  })
})

describe('parseTargetRegions', () => {
  it('is empty for an empty input', () => {
    expect(parseTargetRegions('')).toEqual([])
    expect(parseTargetRegions(' \n , \n')).toEqual([])
  })

  it('reads regions separated by newlines or commas, with optional replicas and storage type', () => {
    expect(
      parseTargetRegions(
        'East US\nwesteurope=2, northeurope = 3 = premium_lrs\r\nuksouth==Standard_ZRS'
      )
    ).toEqual([
      { name: 'eastus' },
      { name: 'westeurope', replicas: 2 },
      { name: 'northeurope', replicas: 3, storageAccountType: 'Premium_LRS' },
      { name: 'uksouth', storageAccountType: 'Standard_ZRS' }
    ])
  })

  it('accepts 1 and 100 replicas', () => {
    expect(parseTargetRegions('eastus=1,westus=100')).toEqual([
      { name: 'eastus', replicas: 1 },
      { name: 'westus', replicas: 100 }
    ])
  })

  it('ignores an empty replicas field', () => {
    expect(parseTargetRegions('eastus=')).toEqual([{ name: 'eastus' }])
  })

  it.each(['0', '101', '-1', '1.5', 'two', '1e2'])('refuses %s replicas', replicas => {
    expect(() => parseTargetRegions(`eastus=${replicas}`)).toThrow(
      `replicas for 'eastus' must be a whole number from 1 to 100, got '${replicas}'.`
    )
  })

  it('refuses an unknown storage type, listing the allowed ones', () => {
    expect(() => parseTargetRegions('eastus=1=Premium_ZRS')).toThrow(
      "storage type for 'eastus' must be one of Standard_LRS | Standard_ZRS | Premium_LRS, got 'Premium_ZRS'."
    )
    expect(() => parseTargetRegions('eastus=1=')).toThrow(/got ''/)
  })

  it('refuses too many fields and an empty name', () => {
    expect(() => parseTargetRegions('eastus=1=Standard_LRS=x')).toThrow(
      "'eastus=1=Standard_LRS=x' is not region[=replicas[=storage-type]]."
    )
    expect(() => parseTargetRegions('=2')).toThrow("'=2' is not region[=replicas[=storage-type]].")
  })

  it.each(['east-us', 'east_us', 'eastus!', 'régión'])('refuses the region name %j', name => {
    expect(() => parseTargetRegions(name)).toThrow(`'${name}' is not a region name.`)
  })

  it('refuses a region listed twice, however it is spelled', () => {
    expect(() => parseTargetRegions('eastus\nEast US=2')).toThrow(
      "region 'East US' is listed twice."
    )
  })
})

describe('withSourceRegion', () => {
  it('puts the source region first when it is not listed', () => {
    expect(withSourceRegion([{ name: 'westeurope' }, { name: 'uksouth' }], 'East US')).toEqual([
      { name: 'eastus' },
      { name: 'westeurope' },
      { name: 'uksouth' }
    ])
  })

  it('moves a listed source region first, keeping its settings and listing it once', () => {
    expect(
      withSourceRegion(
        [
          { name: 'westeurope', replicas: 2 },
          { name: 'eastus', replicas: 5, storageAccountType: 'Premium_LRS' },
          { name: 'uksouth' }
        ],
        'eastus'
      )
    ).toEqual([
      { name: 'eastus', replicas: 5, storageAccountType: 'Premium_LRS' },
      { name: 'westeurope', replicas: 2 },
      { name: 'uksouth' }
    ])
  })

  it('is only the source region without targets', () => {
    expect(withSourceRegion([], 'West US 3')).toEqual([{ name: 'westus3' }])
  })

  it('works on parsed input', () => {
    const regions = withSourceRegion(parseTargetRegions('westus=2, East US'), 'eastus')
    expect(regions.map(r => r.name)).toEqual(['eastus', 'westus'])
  })
})
