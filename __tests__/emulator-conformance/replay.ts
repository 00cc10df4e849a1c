/**
 * Replays recorded Azure requests (fixtures/*.json, trimmed from the Azure CLI's recordings of live
 * traffic) against the emulator and reduces both sides to what the comparison needs: status,
 * long-running-operation headers and status URL shapes, the provisioning-state sequence, body fields.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClientSecretCredential } from '@azure/identity'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'

export type Json = Record<string, any>

export interface Interaction {
  index?: number
  date?: string
  request: { method: string; uri: string; body?: unknown }
  response: { status?: number; headers?: Record<string, string>; body?: unknown; result?: Json }
}

export interface Fixture {
  operation: string
  recording: { repo: string; file: string; commit: string; recorded: string } | null
  specExample?: { name: string; file: string; commit: string }
  sources?: string[]
  interactions: Interaction[]
}

const here = dirname(fileURLToPath(import.meta.url))

export function load(name: string): Fixture {
  return JSON.parse(readFileSync(join(here, 'fixtures', `${name}.json`), 'utf8')) as Fixture
}

/** "test_vm_generalize.yaml@00177d99 #3 (Thu, 25 May 2023 06:51:29 GMT)": names an assertion's source. */
export function cite(f: Fixture, i = 0): string {
  const x = f.interactions[i]
  if (!f.recording) return `${f.specExample?.name ?? f.sources?.[0] ?? 'unrecorded'}`
  const file = f.recording.file.split('/').at(-1)
  const at = x.index !== undefined ? ` #${x.index}` : ''
  return `${file}@${f.recording.commit.slice(0, 8)}${at}${x.date ? ` (${x.date})` : ''}`
}

/** The recording's subscription (the recorder's placeholder) is the emulator's, so URIs replay as they are. */
export const RECORDED_SUBSCRIPTION = '00000000-0000-0000-0000-000000000000'

export interface Reply {
  status: number
  headers: Headers
  body: Json | undefined
}

export interface Replayer {
  emu: ArmEmulator
  send(method: string, uri: string, body?: unknown): Promise<Reply>
  /** GETs an absolute status or monitor URL the emulator returned. */
  get(url: string): Promise<Reply>
  close(): Promise<void>
}

/** A fresh emulator whose LROs take `pollsBeforeDone` polls (the recording's shape decides). */
export async function replayer(pollsBeforeDone: number): Promise<Replayer> {
  const emu = await startArmEmulator({
    subscriptionId: RECORDED_SUBSCRIPTION,
    lro: { pollsBeforeDone }
  })
  const credential = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
    authorityHost: emu.url,
    disableInstanceDiscovery: true
  })
  const token = (await credential.getToken(emu.armScope))!.token
  const call = async (method: string, url: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined || body === null ? undefined : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined }
  }
  return {
    emu,
    send: (method, uri, body) => call(method, `${emu.url}${uri}`, body),
    get: url => call('GET', url),
    close: () => emu.close()
  }
}

/** What a status URL looks like, without host, ids and the signed tail Azure adds since 2023. */
export function statusUrlShape(url: string): { path: string; query: string[] } {
  const u = new URL(url)
  const path = u.pathname
    .replace(/^\/subscriptions\/[^/]+/, '/subscriptions/{s}')
    .replace(/\/locations\/[^/]+\//, '/locations/{loc}/')
    .replace(/\/[0-9a-f-]{36}$/, '/{id}')
  const signed = new Set(['t', 'c', 's', 'h'])
  return { path, query: [...u.searchParams.keys()].filter(k => !signed.has(k)) }
}

/** Which LRO headers a reply carries (the recorder keeps Azure-AsyncOperation and Location). */
export function lroHeaders(h: Headers | Record<string, string> | undefined): string[] {
  const names = ['azure-asyncoperation', 'location']
  if (!h) return []
  if (h instanceof Headers) return names.filter(n => h.has(n))
  const lower = Object.keys(h).map(k => k.toLowerCase())
  return names.filter(n => lower.includes(n))
}

/** Follows a status URL until the operation ends; returns every status document seen. */
export async function follow(r: Replayer, statusUrl: string, limit = 20): Promise<Json[]> {
  const docs: Json[] = []
  for (let i = 0; i < limit; i++) {
    const doc = (await r.get(statusUrl)).body ?? {}
    docs.push(doc)
    if (doc.status !== 'InProgress') return docs
  }
  throw new Error(`operation still InProgress after ${limit} polls: ${statusUrl}`)
}

/** Consecutive repeats folded: the recorder polls on wall time, the emulator per poll. */
export function fold(states: Array<string | undefined>): string[] {
  return states
    .filter((s): s is string => typeof s === 'string')
    .filter((s, i, a) => i === 0 || a[i - 1] !== s)
}

/** The provisioning-state sequence of a recorded LRO: PUT echo, status documents, final GET. */
export function recordedSequence(f: Fixture): string[] {
  return fold(
    f.interactions.map(x => {
      const b = x.response.body as Json | null | undefined
      if (!b) return undefined
      return b.status ?? b.properties?.provisioningState
    })
  )
}

/** A value at a dotted path (`properties.storageProfile.osDisk.osType`, `value[0].code`). */
export function at(obj: unknown, path: string): unknown {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .reduce<unknown>((o, k) => (o === null || o === undefined ? undefined : (o as Json)[k]), obj)
}

/** Sorted keys of a status document (shape, not values). */
export const shape = (doc: Json | undefined): string[] => Object.keys(doc ?? {}).sort()

/** The recorded status documents of a fixture, in order. */
export function recordedDocs(f: Fixture): Json[] {
  return f.interactions
    .filter(x => /\/(operations|DiskOperations|capsOperations)\//.test(x.request.uri))
    .filter(x => !x.request.uri.includes('monitor=true'))
    .map(x => x.response.body as Json)
}

/** pollsBeforeDone that reproduces the recording: one InProgress document seen, or none. */
export const pollsFor = (f: Fixture): number =>
  recordedDocs(f).some(d => d.status === 'InProgress') ? 2 : 1
