import { describe, expect, it } from '@jest/globals'
import { isNotFound, getOrUndefined } from '../../../src/azure/not-found.js'
import { parseResourceId, resourceId, tryParseResourceId } from '../../../src/azure/resource-id.js'

const SUB = '11111111-2222-3333-4444-555555555555'

describe('parseResourceId', () => {
  it('reads a top-level resource back into the ref it was built from', () => {
    const ref = { subscriptionId: SUB, resourceGroup: 'rg', name: 'img' }
    const parsed = parseResourceId(resourceId(ref, 'Microsoft.Compute', 'images'))
    expect(parsed).toEqual({
      ...ref,
      provider: 'Microsoft.Compute',
      types: ['images'],
      names: ['img']
    })
  })

  it('reads every level of a nested resource, the last name being the resource name', () => {
    const parsed = parseResourceId(
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/def/versions/1.0.0`
    )
    expect(parsed.types).toEqual(['galleries', 'images', 'versions'])
    expect(parsed.names).toEqual(['g', 'def', '1.0.0'])
    expect(parsed.name).toBe('1.0.0')
    expect(parsed.resourceGroup).toBe('rg')
  })

  it('accepts the segment keywords in any case, as Azure does', () => {
    expect(
      tryParseResourceId(
        `/SUBSCRIPTIONS/${SUB}/resourcegroups/rg/PROVIDERS/Microsoft.Compute/disks/d`
      )?.name
    ).toBe('d')
  })

  it.each([
    ['a bare name', 'vm1'],
    ['a group without a resource', `/subscriptions/${SUB}/resourceGroups/rg`],
    [
      'a type without a name',
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks`
    ],
    ['an empty segment', `/subscriptions//resourceGroups/rg/providers/Microsoft.Compute/disks/d`],
    [
      'a trailing slash',
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d/`
    ]
  ])('refuses %s', (_what, id) => {
    expect(tryParseResourceId(id)).toBeUndefined()
    expect(() => parseResourceId(id)).toThrow('is not an Azure resource ID')
  })
})

describe('not found', () => {
  it('is a 404 from any client, and nothing else', () => {
    expect(isNotFound({ statusCode: 404 })).toBe(true)
    expect(isNotFound({ statusCode: 403 })).toBe(false)
    expect(isNotFound(new Error('404'))).toBe(false)
    expect(isNotFound(undefined)).toBe(false)
  })

  it('getOrUndefined turns a 404 into undefined and rethrows anything else', async () => {
    await expect(getOrUndefined(Promise.resolve(1))).resolves.toBe(1)
    await expect(getOrUndefined(Promise.reject({ statusCode: 404 }))).resolves.toBeUndefined()
    const denied = { statusCode: 403 }
    await expect(getOrUndefined(Promise.reject(denied))).rejects.toBe(denied)
  })
})
