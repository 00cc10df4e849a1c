/** Helpers for driving the emulator in-process with the real Azure SDKs. */
import tls from 'node:tls'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { ClientSecretCredential } from '@azure/identity'
import { ComputeManagementClient } from '@azure/arm-compute'
import type { ArmEmulator, Body } from '../emulator/index.js'

const trusted = new Set<string>()

/**
 * NODE_EXTRA_CA_CERTS is read at process start, so in-process tests add the emulator's CA to
 * Node's default trust store instead (Node >= 22.19 / 24.5: tls.setDefaultCACertificates).
 */
export function trustEmulator(emu: ArmEmulator): void {
  // Under `npm test` the process started trusting the emulator's certificate (NODE_EXTRA_CA_CERTS).
  if (
    process.env.NODE_EXTRA_CA_CERTS &&
    resolve(process.env.NODE_EXTRA_CA_CERTS) === resolve(emu.caCertPath)
  )
    return
  if (typeof tls.setDefaultCACertificates !== 'function') {
    throw new Error(
      'This Node cannot trust a certificate at run time: run the tests with `npm test`.'
    )
  }
  trusted.add(readFileSync(emu.caCertPath, 'utf8'))
  tls.setDefaultCACertificates([...tls.getCACertificates('bundled'), ...trusted])
}

export function secretCredential(
  emu: ArmEmulator,
  secret = emu.clientSecret
): ClientSecretCredential {
  return new ClientSecretCredential(emu.tenantId, emu.clientId, secret, {
    authorityHost: emu.url,
    disableInstanceDiscovery: true
  })
}

export function computeClient(emu: ArmEmulator): ComputeManagementClient {
  return new ComputeManagementClient(secretCredential(emu), emu.subscriptionId, {
    endpoint: emu.url,
    credentials: { scopes: [emu.armScope] },
    // Fail fast: the SDK's own retries would hide injected faults behind long waits.
    retryOptions: { maxRetries: 3, retryDelayInMs: 10, maxRetryDelayInMs: 50 }
  })
}

/** Raw ARM call with a token from the emulator, for checking exact status codes and bodies. */
export async function arm(
  emu: ArmEmulator,
  method: string,
  path: string,
  body?: unknown,
  token?: string
): Promise<{ status: number; body: Body; headers: Headers }> {
  const t = token ?? (await secretCredential(emu).getToken(emu.armScope))!.token
  const res = await fetch(`${emu.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${t}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers }
}

export const poll = { updateIntervalInMs: 5 }
