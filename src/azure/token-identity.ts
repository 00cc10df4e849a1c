/**
 * Who an access token speaks for, read from its claims (Microsoft identity platform "Access token
 * claims reference": `appid` (v1.0) or `azp` (v2.0) is the client application, `oid` the object ID
 * of the service principal, managed identity or user, `idtyp` says app or user, `upn` /
 * `preferred_username` name a user). Only for the log: the token is not verified here (ARM does
 * that), and a value of an unexpected shape is left out rather than printed.
 */
export interface TokenIdentity {
  appId?: string
  objectId?: string
  user?: string
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const USER = /^[\w.+'-]{1,64}@[A-Za-z0-9.-]{1,255}$/

function claim(
  claims: Record<string, unknown>,
  names: string[],
  shape: RegExp
): string | undefined {
  for (const name of names) {
    const value = claims[name]
    if (typeof value === 'string' && shape.test(value)) return value
  }
  return undefined
}

/** The identity in a JWT access token; undefined when the token is not a readable JWT. */
export function tokenIdentity(token: string): TokenIdentity | undefined {
  const payload = token.split('.')[1]
  if (payload === undefined) return undefined
  let claims: unknown
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof claims !== 'object' || claims === null) return undefined
  const c = claims as Record<string, unknown>
  return {
    appId: claim(c, ['appid', 'azp'], GUID),
    objectId: claim(c, ['oid'], GUID),
    user:
      c.idtyp === 'app' ? undefined : claim(c, ['upn', 'preferred_username', 'unique_name'], USER)
  }
}

/** One line for the log: "application <app ID> (object ID <oid>)" or "user <upn> (object ID <oid>)". */
export function describeIdentity(identity: TokenIdentity | undefined): string {
  if (identity === undefined) return 'an identity whose token carries no readable claims'
  const who = identity.user
    ? `user ${identity.user}`
    : `application ${identity.appId ?? '(no app ID claim)'}`
  return `${who} (object ID ${identity.objectId ?? 'unknown'})`
}
