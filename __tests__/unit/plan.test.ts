import { describe, expect, it } from '@jest/globals'
import { resourceId } from '../../src/azure/resource-id.js'
import { describePlan, type Plan } from '../../src/plan.js'
import { run } from './targets/gallery-fixtures.js'

const SUB = '11111111-2222-3333-4444-555555555555'

function plan(connection: Plan['connection']): Plan {
  return {
    connection,
    subscriptionId: SUB,
    resourceGroup: 'rg',
    source: {
      mode: 'capture',
      vm: { subscriptionId: SUB, resourceGroup: 'rg', name: 'golden' },
      generalize: true,
      deprovision: false,
      backupSnapshot: false,
      deleteSourceVm: false
    },
    tags: { team: 'infra' },
    run,
    timeoutMinutes: 60,
    dryRun: true
  }
}

describe('describePlan', () => {
  it('replaces the client secret, keeping the rest of the plan', () => {
    const secretPlan = plan({
      authType: 'client-secret',
      clientId: 'cid',
      tenantId: 'tid',
      clientSecret: 'super-secret-value',
      environment: 'AzureCloud'
    })
    const described = describePlan(secretPlan) as Plan
    expect(described.connection).toEqual({
      authType: 'client-secret',
      clientId: 'cid',
      tenantId: 'tid',
      clientSecret: '***',
      environment: 'AzureCloud'
    })
    expect({ ...described, connection: undefined }).toEqual({
      ...secretPlan,
      connection: undefined
    })
    expect(JSON.stringify(described)).not.toContain('super-secret-value')
    // The plan itself still holds the secret for the credential.
    expect(secretPlan.connection.clientSecret).toBe('super-secret-value')
  })

  it('leaves an absent secret absent', () => {
    const described = describePlan(
      plan({ authType: 'oidc', clientId: 'cid', tenantId: 'tid', environment: 'AzureCloud' })
    ) as Plan
    expect(described.connection.clientSecret).toBeUndefined()
    expect(JSON.stringify(described)).not.toContain('clientSecret')
  })

  it('replaces an empty secret too', () => {
    const described = describePlan(
      plan({
        authType: 'client-secret',
        clientId: 'cid',
        tenantId: 'tid',
        clientSecret: '',
        environment: 'AzureCloud'
      })
    ) as Plan
    expect(described.connection.clientSecret).toBe('***')
  })
})

describe('resourceId', () => {
  it('builds an ARM resource id', () => {
    expect(
      resourceId(
        { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'img' },
        'Microsoft.Compute',
        'images'
      )
    ).toBe(`/subscriptions/${SUB}/resourceGroups/build-rg/providers/Microsoft.Compute/images/img`)
    expect(
      resourceId(
        { subscriptionId: SUB, resourceGroup: 'gal-rg', name: 'gal' },
        'Microsoft.Compute',
        'galleries'
      )
    ).toBe(`/subscriptions/${SUB}/resourceGroups/gal-rg/providers/Microsoft.Compute/galleries/gal`)
  })
})
