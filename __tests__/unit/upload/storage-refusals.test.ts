import { describe, expect, it } from '@jest/globals'
import { blobOwnedBy, isMissingDataRole } from '../../../src/upload/storage-account-destination.js'

/**
 * Which Azure Storage replies let the action read the account key (README "Storage replies"): only
 * 403 AuthorizationPermissionMismatch (no data role), never a firewall's 403 AuthorizationFailure,
 * an authentication failure or a network error.
 */
describe('isMissingDataRole', () => {
  it('is the 403 AuthorizationPermissionMismatch reply only', () => {
    expect(isMissingDataRole({ statusCode: 403, code: 'AuthorizationPermissionMismatch' })).toBe(
      true
    )
    for (const e of [
      { statusCode: 403, code: 'AuthorizationFailure' },
      { statusCode: 403, code: 'AuthenticationFailed' },
      { statusCode: 401, code: 'InvalidAuthenticationInfo' },
      { statusCode: 401, code: 'NoAuthenticationInformation' },
      { statusCode: 403, code: 'KeyBasedAuthenticationNotPermitted' },
      { statusCode: 503, code: 'ServerBusy' },
      { code: 'ECONNRESET' },
      new Error(
        'Bearer token authentication is not permitted for non-TLS protected (non-https) URLs.'
      )
    ]) {
      expect(isMissingDataRole(e)).toBe(false)
    }
  })
})

describe('blobOwnedBy', () => {
  it('is an exact owner-key match, never the run id alone', () => {
    expect(blobOwnedBy({ githubownerkey: 'k1', githubrunid: '7' }, 'k1')).toBe(true)
    expect(blobOwnedBy({ githubownerkey: 'k2', githubrunid: '7' }, 'k1')).toBe(false)
    expect(blobOwnedBy({ githubrunid: '7' }, 'k1')).toBe(false)
    expect(blobOwnedBy(undefined, 'k1')).toBe(false)
  })
})
