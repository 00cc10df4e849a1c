import { describe, it, expect } from '@jest/globals'
import { ComputeManagementClient } from '@azure/arm-compute'
import { AuthorizationManagementClient } from '@azure/arm-authorization'
import { AnonymousCredential, BlockBlobClient } from '@azure/storage-blob'
import { AuthenticationError } from '@azure/identity'
import { RestError } from '@azure/core-rest-pipeline'
import { describeAzureError, expectedOidcSubject, redactUrl } from '../../../src/azure/errors.js'
import { scriptedHttpClient, tokenSequence, type Reply } from './fake-http.js'

const SUB = '00000000-0000-0000-0000-000000000001'
const noRetry = { maxRetries: 0 }

function compute(replies: Reply[]): ComputeManagementClient {
  return new ComputeManagementClient(tokenSequence(['t']), SUB, {
    httpClient: scriptedHttpClient(replies),
    retryOptions: noRetry
  })
}

async function thrown(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

const armError = (status: number, code: string, message: string, extra: object = {}): Reply => ({
  status,
  headers: { 'x-ms-request-id': 'req-123', 'x-ms-correlation-request-id': 'corr-9' },
  body: { error: { code, message, ...extra } }
})

describe('describeAzureError with errors thrown by the real SDKs', () => {
  it('modular arm-compute RestError: code, message, target, inner details, request id', async () => {
    const error = await thrown(
      compute([
        armError(
          409,
          'OperationNotAllowed',
          "Operation 'generalize' is not allowed since the VM 'vm' is running.",
          {
            target: 'vm',
            details: [{ code: 'VMRunning', message: 'Deallocate the VM first.' }]
          }
        )
      ]).virtualMachines.generalize('rg', 'vm')
    )
    const d = describeAzureError(error, 'Generalizing VM vm')
    expect(d.summary).toBe(
      "Generalizing VM vm failed: OperationNotAllowed: Operation 'generalize' is not allowed since the VM 'vm' is running. (request id req-123)"
    )
    expect(d.code).toBe('OperationNotAllowed')
    expect(d.requestId).toBe('req-123')
    expect(d.details).toEqual(
      expect.arrayContaining([
        'HTTP status: 409',
        'Target: vm',
        'Detail: VMRunning: Deallocate the VM first.',
        'Request id: req-123',
        'Correlation id: corr-9'
      ])
    )
    expect(
      d.details.some(l => l.startsWith('Hint: The VM must be stopped (powered off or deallocated)'))
    ).toBe(true)
    expect(d.details.some(l => l.startsWith('Request: POST ') && !l.includes('api-version'))).toBe(
      true
    )
  })

  it('core-lro: an operation that ends Failed yields its code and message', async () => {
    const status = `https://management.azure.com/subscriptions/${SUB}/providers/Microsoft.Compute/locations/westeurope/operations/op1?api-version=2026-04-01`
    const poller = compute([
      { status: 202, headers: { 'Azure-AsyncOperation': status, Location: status } },
      {
        status: 200,
        body: {
          status: 'Failed',
          error: {
            code: 'QuotaExceeded',
            message:
              'Operation could not be completed as it results in exceeding approved Total Regional Cores quota.'
          }
        }
      }
    ]).virtualMachines.deallocate('rg', 'vm', { updateIntervalInMs: 1 })
    const error = await thrown(poller.pollUntilDone())
    // The shape core-lro 3 actually throws: a plain Error, the code only in its text.
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(
      /^The long-running operation has failed\. QuotaExceeded\. /
    )
    const d = describeAzureError(error, 'Deallocating VM vm')
    expect(d.code).toBe('QuotaExceeded')
    expect(d.summary).toBe(
      'Deallocating VM vm failed: QuotaExceeded: Operation could not be completed as it results in exceeding approved Total Regional Cores quota.'
    )
    expect(d.details.some(l => l.startsWith('Hint: A subscription or regional quota'))).toBe(true)
  })

  it('classic arm-authorization RestError', async () => {
    const client = new AuthorizationManagementClient(tokenSequence(['t']), SUB, {
      httpClient: scriptedHttpClient([
        armError(
          403,
          'AuthorizationFailed',
          `The client 'abc' with object id 'abc' does not have authorization to perform action 'Microsoft.Authorization/permissions/read' over scope '/subscriptions/${SUB}/resourcegroups/rg' or the scope is invalid.`
        )
      ]),
      retryOptions: noRetry
    })
    const iterate = async (): Promise<void> => {
      for await (const _p of client.permissions.listForResourceGroup('rg')) void _p
    }
    const d = describeAzureError(await thrown(iterate()), 'Reading permissions')
    expect(d.code).toBe('AuthorizationFailed')
    expect(d.requestId).toBe('req-123')
    expect(d.summary).toMatch(
      /^Reading permissions failed: AuthorizationFailed: The client 'abc' .* \(request id req-123\)$/
    )
    expect(d.details).toContain('HTTP status: 403')
  })

  it('storage-blob RestError: storage code, first message line, no SAS in anything printed', async () => {
    const sas =
      'https://acct.blob.core.windows.net/vhds/os.vhd?sv=2024-01-01&sp=rw&sig=TOPSECRETSIG%3D'
    // storage-blob takes a core-http (v1) style client: headers with toJson().
    const headers = {
      'x-ms-error-code': 'AuthorizationPermissionMismatch',
      'x-ms-request-id': 'st-1',
      'content-type': 'application/xml'
    }
    const v1Client = {
      sendRequest: async (request: unknown) => ({
        request,
        status: 403,
        headers: { toJson: () => headers, get: (n: string) => headers[n as keyof typeof headers] },
        bodyAsText:
          '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthorizationPermissionMismatch</Code><Message>This request is not authorized to perform this operation using this permission.\nRequestId:st-1\nTime:2026-01-01T00:00:00.0000000Z</Message></Error>'
      })
    }
    const blob = new BlockBlobClient(sas, new AnonymousCredential(), {
      httpClient: v1Client as never,
      retryOptions: { maxTries: 1 }
    })
    const error = await thrown(blob.upload('x', 1))
    const d = describeAzureError(error, 'Uploading os.vhd')
    expect(d.code).toBe('AuthorizationPermissionMismatch')
    expect(d.requestId).toBe('st-1')
    expect(d.summary).toBe(
      'Uploading os.vhd failed: AuthorizationPermissionMismatch: This request is not authorized to perform this operation using this permission. (request id st-1)'
    )
    const printed = [d.summary, ...d.details].join('\n')
    expect(printed).not.toContain('TOPSECRETSIG')
    expect(printed).toContain('Storage Blob Data Contributor')
  })

  it('@azure/identity AuthenticationError: AADSTS code and OIDC hint with the subject', () => {
    const error = new AuthenticationError(400, {
      error: 'invalid_client',
      error_description:
        "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: 'https://token.actions.githubusercontent.com'. Assertion Subject: 'repo:o/r:ref:refs/heads/main'.",
      correlation_id: 'c-1',
      trace_id: 't-1'
    })
    const d = describeAzureError(error, 'Signing in to Azure', {
      github: { repository: 'o/r', ref: 'refs/heads/main', environment: 'prod' }
    })
    expect(d.code).toBe('AADSTS70021')
    expect(d.summary).toContain('AADSTS70021: No matching federated identity record')
    const hints = d.details.filter(l => l.startsWith('Hint: ')).join('\n')
    expect(hints).toContain("'repo:o/r:environment:prod'")
    expect(hints).toContain('repo:<owner>/<repo>:ref:refs/heads/<branch>')
    expect(d.details).toContain('Entra ID correlation id: c-1')
  })
})

describe('describeAzureError hints', () => {
  const restError = (status: number, code: string, message: string): RestError =>
    new RestError(message, { code, statusCode: status })

  it('AuthorizationFailed: names the action, the scope and a fitting role', () => {
    const scope = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm`
    const d = describeAzureError(
      restError(
        403,
        'AuthorizationFailed',
        `The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/deallocate/action' over scope '${scope}' or the scope is invalid.`
      ),
      'Deallocating VM vm'
    )
    const hint = d.details.find(l => l.startsWith('Hint: '))
    expect(hint).toContain("'Microsoft.Compute/virtualMachines/deallocate/action'")
    expect(hint).toContain('Virtual Machine Contributor')
    expect(hint).toContain(`--scope ${scope}`)
  })

  it.each([
    ['Microsoft.Compute/galleries/images/versions/write', 'Compute Gallery Artifacts Publisher'],
    ['Microsoft.Compute/images/write', 'Compute Gallery Artifacts Publisher'],
    ['Microsoft.Compute/snapshots/write', 'Disk Snapshot Contributor'],
    ['Microsoft.Compute/disks/endGetAccess/action', 'Contributor']
  ])('AuthorizationFailed on %s suggests %s', (action, role) => {
    const d = describeAzureError(
      restError(
        403,
        'AuthorizationFailed',
        `does not have authorization to perform action '${action}' over scope '/s' or`
      ),
      'op'
    )
    expect(d.details.find(l => l.startsWith('Hint: '))).toContain(`Assign '${role}'`)
  })

  it('LinkedAuthorizationFailed names the linked scope', () => {
    const d = describeAzureError(
      restError(
        403,
        'LinkedAuthorizationFailed',
        "The client has permission to perform action 'Microsoft.Compute/images/write' on scope '/a', however the current tenant 't' is not authorized to perform action 'Microsoft.Compute/disks/read' on the linked scope(s) '/subscriptions/s/resourceGroups/other/providers/Microsoft.Compute/disks/d'."
      ),
      'Creating image'
    )
    expect(d.details.join('\n')).toContain(
      "grant 'Microsoft.Compute/disks/read' on '/subscriptions/s/resourceGroups/other"
    )
  })

  it('Trusted Launch with a managed image points to a gallery target', () => {
    const d = describeAzureError(
      restError(
        400,
        'OperationNotAllowed',
        "Creating an image from a VM with SecurityType 'TrustedLaunch' is not supported."
      ),
      'Creating managed image img'
    )
    expect(d.details.join('\n')).toContain("set 'gallery' and 'gallery-image'")
  })

  // hashicorp/packer-plugin-azure#304: Azure's words for a VM source into a TrustedLaunchSupported
  // definition, the default for definitions created without a SecurityType since API 2025-03-03.
  it('a VM or disk refused by a TrustedLaunchSupported definition points to a Standard definition or image-name, not to dropping it', () => {
    const d = describeAzureError(
      restError(
        400,
        'InvalidParameter',
        "The security type 'TrustedLaunchSupported' is not supported for the source id '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm'. Currently only Vhd Blob, User Image and Gallery Image Version sources are supported for 'TrustedLaunchSupported' images."
      ),
      'Creating gallery image version 1.0.0'
    )
    const text = d.details.join('\n')
    expect(text).toContain('SecurityType=Standard')
    expect(text).toContain("also set 'image-name'")
    expect(text).not.toContain("drop 'image-name'")
  })

  it.each([
    ['QuotaExceeded', 'exceeding quota', 'quota'],
    ['OperationNotAllowed', 'Operation results in exceeding quota limits of Core.', 'quota'],
    ['SkuNotAvailable', "The requested size 'Standard_X' is not available", 'list-skus'],
    [
      'LocationNotAvailableForResourceType',
      "The provided location 'east us' is not available",
      'eastus'
    ],
    ['InvalidLocation', 'bad', 'az account list-locations'],
    ['ResourceGroupNotFound', "Resource group 'rg' could not be found.", "'resource-group'"],
    [
      'ResourceNotFound',
      "The Resource 'Microsoft.Compute/virtualMachines/vm' was not found.",
      'Check the name'
    ],
    ['ExpiredAuthenticationToken', 'expired', 'runner clock'],
    [
      'InvalidAuthenticationTokenAudience',
      'The access token has been obtained for wrong audience',
      "'environment'"
    ],
    ['RequestDisallowedByPolicy', 'Resource was disallowed by policy.', 'Azure Policy'],
    [
      'KeyBasedAuthenticationNotPermitted',
      'Key based authentication is not permitted',
      'Storage Blob Data Contributor'
    ],
    ['Conflict', 'Run command extension execution is in progress.', 'Another Run Command'],
    [
      'OperationNotAllowed',
      "The VM 'vm' must be generalized to create an image.",
      'generalize: false'
    ],
    // Azure's own texts (real-azure.md row 16): ansible/ansible#37158; Learn
    // virtual-machines/error-messages.md, whose start azure-docs#86809 quotes for generalize.
    [
      'OperationNotAllowed',
      "The operation 'Create Image' requires the Virtual Machine 'opstest' to be Generalized.",
      'An image of this kind needs a generalized VM'
    ],
    [
      'OperationNotAllowed',
      "Operation 'generalize' is not allowed on VM 'myVM' since the VM is running. Please power off explicitly in case you shut down the VM from inside the guest operating system.",
      'stopped (powered off or deallocated) before Azure marks it generalized'
    ]
  ])('%s → hint mentioning %s', (code, message, expected) => {
    const d = describeAzureError(restError(409, code, message), 'op')
    expect(d.details.filter(l => l.startsWith('Hint: ')).join('\n')).toContain(expected)
  })

  it('AADSTS700024 (expired GitHub OIDC assertion) from a credential message', () => {
    const d = describeAzureError(
      new Error(
        'ClientAssertionCredential authentication failed: AADSTS700024: Client assertion is not within its valid time range.'
      ),
      'Signing in'
    )
    expect(d.code).toBe('AADSTS700024')
    expect(d.summary).toBe(
      'Signing in failed: ClientAssertionCredential authentication failed: AADSTS700024: Client assertion is not within its valid time range.'
    )
    expect(d.details.join('\n')).toContain('GitHub OIDC token')
  })

  it('AADSTS700016 (unknown application) explains client-id/tenant-id', () => {
    const d = describeAzureError(
      new Error(
        "AADSTS700016: Application with identifier 'x' was not found in the directory 'y'."
      ),
      'Signing in'
    )
    expect(d.details.join('\n')).toContain("'client-id' was not found in tenant 'tenant-id'")
  })

  it('no hint for an unknown code, and plain values are described too', () => {
    expect(
      describeAzureError(restError(400, 'SomethingNew', 'odd'), 'op').details.some(l =>
        l.startsWith('Hint')
      )
    ).toBe(false)
    expect(describeAzureError('just text', 'op').summary).toBe('op failed: just text')
    expect(describeAzureError(new Error('boom'), 'op').summary).toBe('op failed: boom')
  })

  it('a transport error keeps its code and gets a network hint', () => {
    const d = describeAzureError(
      new RestError('read ECONNRESET', { code: 'ECONNRESET' }),
      'Polling'
    )
    expect(d.summary).toBe('Polling failed: ECONNRESET: read ECONNRESET')
    expect(d.code).toBe('ECONNRESET')
    expect(d.details.join('\n')).toContain('network error')
  })

  it('summary is one line and carries no SAS signature', () => {
    const d = describeAzureError(
      new Error(
        'Copy from https://a.blob.core.windows.net/c/b?sv=1&sig=SECRETSIG failed\nsecond line'
      ),
      'Copying'
    )
    expect(d.summary).not.toContain('\n')
    expect(d.summary).not.toContain('SECRETSIG')
    expect(d.summary).toContain('sig=***')
  })
})

describe('redactUrl (re-exported)', () => {
  it('strips the signature', () => {
    expect(redactUrl('https://a/b?sig=abc&sp=r')).toBe('https://a/b?sig=***&sp=r')
  })
})

describe('expectedOidcSubject', () => {
  it('follows GitHub default subject claims', () => {
    expect(expectedOidcSubject({ repository: 'o/r', ref: 'refs/heads/main' })).toBe(
      'repo:o/r:ref:refs/heads/main'
    )
    expect(expectedOidcSubject({ repository: 'o/r', ref: 'refs/tags/v1' })).toBe(
      'repo:o/r:ref:refs/tags/v1'
    )
    expect(
      expectedOidcSubject({ repository: 'o/r', environment: 'prod', ref: 'refs/heads/main' })
    ).toBe('repo:o/r:environment:prod')
    expect(
      expectedOidcSubject({
        repository: 'o/r',
        eventName: 'pull_request',
        ref: 'refs/pull/1/merge'
      })
    ).toBe('repo:o/r:pull_request')
  })
})
