import { describe, expect, it } from '@jest/globals'
import { describeIdentity, tokenIdentity } from '../../../src/azure/token-identity.js'

const APP = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
const OID = '6a2f8c1e-0b7d-4e3a-9f51-2c4d6e8f0a1b'
const jwt = (claims: Record<string, unknown>): string =>
  `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`

describe('tokenIdentity', () => {
  it('reads the app and object ID of an app-only v1.0 token', () => {
    const id = tokenIdentity(jwt({ appid: APP, oid: OID, idtyp: 'app', ver: '1.0' }))
    expect(id).toEqual({ appId: APP, objectId: OID, user: undefined })
    expect(describeIdentity(id)).toBe(`application ${APP} (object ID ${OID})`)
  })

  it('reads azp (v2.0) and a user principal name', () => {
    const id = tokenIdentity(jwt({ azp: APP, oid: OID, upn: 'ana@contoso.com', ver: '2.0' }))
    expect(describeIdentity(id)).toBe(`user ana@contoso.com (object ID ${OID})`)
  })

  it('leaves out claims of an unexpected shape instead of printing them', () => {
    const id = tokenIdentity(jwt({ appid: '::error::boom', oid: 'x\ny', upn: 'a@b\n::warning::' }))
    expect(id).toEqual({ appId: undefined, objectId: undefined, user: undefined })
    expect(describeIdentity(id)).toBe('application (no app ID claim) (object ID unknown)')
  })

  it('says so for an opaque token', () => {
    expect(tokenIdentity('opaque')).toBeUndefined()
    expect(tokenIdentity('a.!!!.c')).toBeUndefined()
    expect(describeIdentity(undefined)).toMatch(/no readable claims/)
  })
})
