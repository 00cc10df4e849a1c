/**
 * Microsoft Entra, GitHub OIDC and cloud-metadata stand-ins.
 * Shapes: msal-common `OpenIdConfigResponse` (authorization_endpoint, token_endpoint, issuer, jwks_uri),
 * Entra v2.0 token endpoint (client_credentials with client_secret or client_assertion),
 * @actions/core oidc-utils (`{ value }` from ACTIONS_ID_TOKEN_REQUEST_URL&audience=...),
 * Azure Stack Hub `/metadata/endpoints?api-version=2015-01-01`,
 * App Service managed identity (msal-node `ManagedIdentitySources/AppService`, see managedIdentityToken).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Ctx, Reply, State, TokenRequest } from './types.js'
import { armError } from './errors.js'
import { newGuid } from './ids.js'

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

function jwtId(jwt: string): string | undefined {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()).jti
  } catch {
    return undefined
  }
}

export function metadataEndpoints(state: State): Reply {
  return {
    status: 200,
    body: {
      galleryEndpoint: `${state.url}/gallery/`,
      graphEndpoint: `${state.url}/graph/`,
      portalEndpoint: `${state.url}/portal/`,
      authentication: {
        loginEndpoint: `${state.url}/`,
        audiences: [state.config.armAudience]
      }
    }
  }
}

/** Entra's OAuth error body, e.g. `{ error: 'invalid_client', error_description: 'AADSTS...', error_codes: [...] }`. */
function entraError(status: number, error: string, aadsts: number, description: string): Reply {
  return {
    status,
    body: {
      error,
      error_description: `AADSTS${aadsts}: ${description} Trace ID: ${randomBytes(8).toString('hex')} Correlation ID: ${randomBytes(8).toString('hex')} Timestamp: ${new Date().toISOString()}`,
      error_codes: [aadsts],
      timestamp: new Date().toISOString()
    }
  }
}

export function openIdConfiguration(state: State, tenant: string): Reply {
  if (tenant !== state.config.tenantId && tenant !== 'organizations')
    return entraError(400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`)
  const base = `${state.url}/${tenant}`
  return {
    status: 200,
    body: {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      issuer: `${state.url}/${tenant}/v2.0`,
      token_endpoint_auth_methods_supported: [
        'client_secret_post',
        'private_key_jwt',
        'client_secret_basic'
      ],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      tenant_region_scope: 'NA'
    }
  }
}

export function tokenEndpoint(ctx: Ctx, tenant: string): Reply {
  const { state } = ctx
  const form = new URLSearchParams(ctx.rawBody)
  const clientId = form.get('client_id') ?? ''
  const scope = form.get('scope') ?? ''
  const assertion = form.get('client_assertion')
  const secret = form.get('client_secret')
  const entry: TokenRequest = {
    time: Date.now(),
    grantType: form.get('grant_type') ?? '',
    clientId,
    scope,
    via: assertion ? 'client_assertion' : secret ? 'client_secret' : 'unknown',
    assertionId: assertion ? jwtId(assertion) : undefined,
    ok: false
  }
  state.tokenRequests.push(entry)
  const reply = issueToken(state, tenant, form)
  if (reply.status === 200) entry.ok = true
  else entry.error = (reply.body as { error_description?: string }).error_description
  return reply
}

function issueToken(state: State, tenant: string, form: URLSearchParams): Reply {
  const cfg = state.config
  if (tenant !== cfg.tenantId)
    return entraError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`)
  if (form.get('grant_type') !== 'client_credentials')
    return entraError(
      400,
      'unsupported_grant_type',
      70003,
      'The app requested an unsupported grant type.'
    )
  const clientId = form.get('client_id') ?? ''
  if (clientId !== cfg.clientId)
    return entraError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${clientId}' was not found in the directory '${tenant}'.`
    )
  const assertion = form.get('client_assertion')
  const secret = form.get('client_secret')
  if (assertion) {
    const issued = state.idTokens.get(assertion)
    if (!issued)
      return entraError(
        400,
        'invalid_client',
        700211,
        'No matching federated identity record found for presented assertion issuer.'
      )
    const now = Date.now()
    if (issued.expiresAt <= now)
      // Entra's wording for an expired federated assertion (seen in Azure/login#180, packer-plugin-azure#385).
      return entraError(
        400,
        'invalid_client',
        700024,
        `Client assertion is not within its valid time range. Current time: ${new Date(now).toISOString()}, assertion valid from ${new Date(issued.issuedAt).toISOString()}, expiry time of assertion ${new Date(issued.expiresAt).toISOString()}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`
      )
    if (
      issued.audience !== 'api://AzureADTokenExchange' &&
      !issued.audience.startsWith('api://AzureADTokenExchange')
    )
      return entraError(
        400,
        'invalid_client',
        700212,
        `No matching federated identity record found for presented assertion audience '${issued.audience}'.`
      )
  } else if (secret !== null) {
    if (secret !== cfg.clientSecret)
      return entraError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`
      )
  } else {
    return entraError(
      401,
      'invalid_client',
      7000218,
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."
    )
  }
  const scope = (form.get('scope') ?? '').split(' ').find(s => s.endsWith('/.default'))
  if (!scope)
    return entraError(
      400,
      'invalid_scope',
      1002012,
      `The provided value for scope ${form.get('scope') ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`
    )
  const audience = scope.replace(/\/\.default$/, '')
  const expiresIn = cfg.tokenLifetimeSeconds
  const value = accessToken(state, audience, clientId, Date.now() + expiresIn * 1000)
  return {
    status: 200,
    body: {
      token_type: 'Bearer',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: value
    }
  }
}

/**
 * The object ID of the service principal behind a client (app) ID. In Entra they are different
 * GUIDs (the app registration's appId vs. its service principal's id); here one is derived from the
 * other so tests can predict it.
 */
export function servicePrincipalObjectId(clientId: string): string {
  const h = createHash('sha256').update(`sp:${clientId}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/**
 * Issues an access token and records it in `state.tokens`, which every emulator check looks it up in.
 * Tokens are JWT-shaped as Entra's are, with the v1.0 claims of an app-only token (Microsoft identity
 * platform "Access token claims reference": `aud`, `iss` https://sts.windows.net/<tenant>/, `iat`,
 * `nbf`, `exp`, `appid`, `oid` and `sub` (the service principal's object ID), `tid`, `idtyp: app`,
 * `uti`, `ver: 1.0`); the signature is random bytes (nothing here verifies it: the emulator looks
 * tokens up by value). The blob service (Azurite with `--oauth basic`) decodes storage tokens: it checks
 * `iss` against Entra's `https://sts.windows.net/` prefix, `aud` against the storage audiences, and
 * `iat`/`nbf`/`exp`, but not the signature.
 */
function accessToken(state: State, audience: string, clientId: string, expiresAt: number): string {
  const tenantId = state.config.tenantId
  const now = Math.floor(Date.now() / 1000)
  const objectId = servicePrincipalObjectId(clientId)
  const value = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'emulator' })}.${b64url({
    aud: audience,
    iss: `https://sts.windows.net/${tenantId}/`,
    iat: now,
    nbf: now,
    exp: Math.floor(expiresAt / 1000),
    appid: clientId,
    idtyp: 'app',
    oid: objectId,
    sub: objectId,
    tid: tenantId,
    uti: randomBytes(12).toString('base64url'),
    ver: '1.0'
  })}.${randomBytes(32).toString('base64url')}`
  state.tokens.set(value, { value, audience, expiresAt, clientId })
  return value
}

/** GitHub's ID-token endpoint as `core.getIDToken` calls it. */
export function githubOidc(ctx: Ctx): Reply {
  const { state } = ctx
  state.counters.idTokenRequests++
  const auth = ctx.req.headers.authorization ?? ''
  if (auth !== `Bearer ${state.config.oidcRequestToken}`)
    return { status: 401, body: { message: 'Bad credentials' } }
  const audience = ctx.query.audience ?? 'https://github.com/emulator'
  const now = Date.now()
  const expiresAt = now + state.config.idTokenLifetimeSeconds * 1000
  const payload = {
    iss: 'https://token.actions.githubusercontent.com',
    aud: audience,
    sub: 'repo:emulator/action:ref:refs/heads/main',
    iat: Math.floor(now / 1000),
    nbf: Math.floor(now / 1000),
    exp: Math.floor(expiresAt / 1000),
    jti: randomBytes(8).toString('hex')
  }
  const value = `${b64url({ alg: 'RS256', typ: 'JWT', kid: 'emulator' })}.${b64url(payload)}.${randomBytes(32).toString('base64url')}`
  state.idTokens.set(value, { value, audience, expiresAt, issuedAt: now })
  return { status: 200, body: { count: 1, value } }
}

/**
 * App Service's local token endpoint (IDENTITY_ENDPOINT), as msal-node 7 `AppService.createRequest`
 * calls it: `GET ?api-version=2019-08-01&resource=<scope without /.default>[&client_id=<user-assigned>]`
 * with header `X-IDENTITY-HEADER: $IDENTITY_HEADER`. Success body as documented in "How to use managed
 * identities for App Service" (REST endpoint reference): access_token, expires_on (epoch seconds, as a
 * string), resource, token_type, client_id. Errors: `{ statusCode, message, correlationId }`, e.g.
 * 400 "Unable to load the proper Managed Identity." for an identity not assigned (azure-sdk-for-net#43691);
 * msal-node `getServerTokenResponse` reads `message` and `correlationId` from it.
 */
export function managedIdentityToken(ctx: Ctx): Reply {
  const { state, query } = ctx
  const cfg = state.config
  const fail = (status: number, message: string): Reply => ({
    status,
    body: { statusCode: status, message, correlationId: newGuid() }
  })
  if (ctx.req.headers['x-identity-header'] !== cfg.identityHeader)
    return fail(401, 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.')
  if (query['api-version'] !== '2019-08-01')
    return fail(400, `Unsupported api-version '${query['api-version'] ?? ''}'.`)
  const resource = query.resource
  if (!resource) return fail(400, "The 'resource' query parameter is required.")
  if (query.object_id || query.mi_res_id || query.principal_id)
    return fail(400, 'Unable to load the proper Managed Identity.')
  const clientId = query.client_id ?? cfg.systemAssignedClientId
  if (query.client_id !== undefined && !cfg.userAssignedClientIds.includes(query.client_id))
    return fail(400, 'Unable to load the proper Managed Identity.')
  // The endpoint asks Entra for the token; Entra only knows this cloud's ARM as a resource.
  if (normAud(resource) !== normAud(cfg.armAudience))
    return fail(
      400,
      `AADSTS500011: The resource principal named ${resource} was not found in the tenant named ${cfg.tenantId}.`
    )
  const expiresAt = Date.now() + cfg.tokenLifetimeSeconds * 1000
  const value = accessToken(state, resource, clientId, expiresAt)
  return {
    status: 200,
    body: {
      access_token: value,
      expires_on: String(Math.floor(expiresAt / 1000)),
      resource,
      token_type: 'Bearer',
      client_id: clientId
    }
  }
}

/** Audience of the emulator-issued token in an Authorization header, for the request log. */
export function tokenAudience(state: State, authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '')
  return m ? state.tokens.get(m[1])?.audience : undefined
}

const normAud = (a: string): string => a.replace(/\/+$/, '').toLowerCase()

/** ARM's bearer-token check. Returns an error reply, or undefined when the token is good. */
export function checkArmToken(state: State, authorization: string | undefined): Reply | undefined {
  if (!authorization)
    return armError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is missing."
    )
  const m = /^Bearer\s+(.+)$/i.exec(authorization)
  if (!m)
    return armError(
      401,
      'AuthenticationFailed',
      "Authentication failed. The 'Authorization' header is provided in an invalid format."
    )
  const token = state.tokens.get(m[1])
  if (!token) return armError(401, 'InvalidAuthenticationToken', 'The access token is invalid.')
  if (normAud(token.audience) !== normAud(state.config.armAudience))
    return armError(
      401,
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${token.audience}'. It should exactly match with one of the allowed audiences '${state.config.armAudience}'.`
    )
  if (token.expiresAt <= Date.now()) return expiredTokenReply(state, token.expiresAt)
  return undefined
}

/** ARM's 401 for a token past its expiry (README "Identity"). */
export function expiredTokenReply(state: State, expiresAt: number): Reply {
  const msg = `The access token expiry UTC time '${new Date(expiresAt).toUTCString()}' is earlier than current UTC time '${new Date().toUTCString()}'.`
  return armError(401, 'ExpiredAuthenticationToken', msg, {
    headers: {
      'WWW-Authenticate': `Bearer authorization_uri="${state.url}/", error="invalid_token", error_description="The access token has expired."`
    }
  })
}
