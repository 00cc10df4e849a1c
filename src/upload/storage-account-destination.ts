/**
 * Upload as page blobs into the user's storage account. The blob endpoint comes from ARM; the blob
 * service is reached with the same Entra ID credential (Storage Blob Data Contributor), and only
 * when the service refuses that, with the account key read through ARM, saying so.
 */
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient
} from '@azure/storage-blob'
import type { TokenCredential } from '@azure/identity'
import { parseResourceId } from '../azure/resource-id.js'
import type { UploadDestination } from '../plan.js'
import type { AzureDeps, RunContext } from '../run-context.js'
import {
  createPageBlob,
  createPageBlobClient,
  createPageBlobSink,
  readPageBlobState
} from './page-blob-sink.js'
import {
  sameSourceIdentity,
  sourceIdentityFromMetadata,
  sourceIdentityToMetadata
} from './resume.js'
import { sendDisk, type UploadDisk } from './send-disk.js'
import { oneLine } from '../untrusted.js'

type StorageAccountDestination = Extract<UploadDestination, { kind: 'storage-account' }>

export interface PreparedAccount {
  id: string
  blobEndpoint: string
  container: ContainerClient
  /** Builds a page blob client with the credential that worked. */
  credential: TokenCredential | StorageSharedKeyCredential
  auth: 'entra-id' | 'account-key'
}

/** Blob metadata names must be C# identifiers: the run id goes in as `githubrunid`. */
const RUN_ID_METADATA = 'githubrunid'

const STORAGE_SCOPE = 'https://storage.azure.com/.default'

/**
 * Whether the blob service refused the Entra ID token (401/403), or the token could not be sent at
 * all: the SDK never sends a bearer token over plain http (emulators, some Azure Stack setups).
 */
function refused(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode
  return status === 401 || status === 403 || /non-TLS|non-https/i.test((e as Error).message ?? '')
}

export async function connectStorageAccount(
  deps: AzureDeps,
  target: { account: { resourceGroup: string; name: string }; container: string }
): Promise<PreparedAccount> {
  const { clients, log, signal } = deps
  const { account, container } = target
  const props = await clients.storage.storageAccounts.getProperties(
    account.resourceGroup,
    account.name,
    {
      abortSignal: signal
    }
  )
  const blobEndpoint = props.primaryEndpoints?.blob
  if (!blobEndpoint) {
    throw new Error(
      `Storage account '${account.name}' has no blob endpoint: it cannot hold page blobs (use a general-purpose v2 account).`
    )
  }
  const id = props.id as string
  // `audience` is the token scope as is: without `/.default` Entra refuses a client-credentials
  // request (AADSTS1002012).
  const entra = new BlobServiceClient(blobEndpoint, clients.credential, {
    audience: STORAGE_SCOPE
  }).getContainerClient(container)
  try {
    await entra.createIfNotExists({ abortSignal: signal })
    log.info(oneLine(`Storage account '${account.name}': signed in with Microsoft Entra ID`))
    return { id, blobEndpoint, container: entra, credential: clients.credential, auth: 'entra-id' }
  } catch (e) {
    if (!refused(e)) throw e
    const code =
      (e as { code?: string }).code ??
      ((e as { statusCode?: number }).statusCode
        ? String((e as { statusCode?: number }).statusCode)
        : 'not https')
    log.warning(
      oneLine(
        `Storage account '${account.name}' refused Microsoft Entra ID (${code}): falling back to the account key read through ARM (listKeys). ` +
          `Grant the identity 'Storage Blob Data Contributor' on the account to avoid shared keys.`
      )
    )
  }
  const keys = await clients.storage.storageAccounts.listKeys(account.resourceGroup, account.name, {
    abortSignal: signal
  })
  const key = keys.keys?.[0]?.value
  if (!key)
    throw new Error(
      `Storage account '${account.name}' returned no account key (is shared key access disabled?).`
    )
  log.secret(key)
  const credential = new StorageSharedKeyCredential(account.name, key)
  const keyed = new BlobServiceClient(blobEndpoint, credential).getContainerClient(container)
  await keyed.createIfNotExists({ abortSignal: signal })
  return { id, blobEndpoint, container: keyed, credential, auth: 'account-key' }
}

export async function prepareStorageAccount(
  ctx: RunContext,
  destination: StorageAccountDestination
): Promise<PreparedAccount> {
  return connectStorageAccount(ctx, destination)
}

export function uploadBlobName(base: string, runId: string, lun: 'os' | number): string {
  return `${base}-${runId}-${lun === 'os' ? 'os' : `lun${lun}`}.vhd`
}

export interface PageBlobUploadOptions {
  account: PreparedAccount
  disk: UploadDisk
  /** This disk's share of the upload concurrency. */
  concurrency: number
}

export async function uploadToPageBlob(
  ctx: RunContext,
  options: PageBlobUploadOptions
): Promise<{ url: string; bytesSent: number }> {
  const { account, disk, concurrency } = options
  const { plan, log, signal } = ctx
  const base = plan.managedImage?.image.name ?? plan.gallery?.imageDefinition ?? 'image'
  const blob = account.container.getPageBlobClient(uploadBlobName(base, plan.run.runId, disk.lun))
  const url = blob.url
  const client = createPageBlobClient(url, account.credential)
  const control = createPageBlobClient(url, account.credential, { sdkRetries: true })
  const state = await readPageBlobState(control, signal)
  const resumable =
    state.exists &&
    state.size === disk.uploadSize &&
    state.metadata?.[RUN_ID_METADATA] === plan.run.runId &&
    sameSourceIdentity(sourceIdentityFromMetadata(state.metadata), disk.identity)
  ctx.ledger.add({ kind: 'upload-blob', url, storageAccountId: account.id })
  if (state.exists && !resumable) {
    if (state.metadata?.[RUN_ID_METADATA] !== plan.run.runId) {
      throw new Error(
        `Blob ${url} already exists and was not written by this run: choose another container or delete it.`
      )
    }
  }
  if (resumable) {
    log.info(oneLine(`Resuming the upload into ${url} left by an earlier attempt of this run`))
  } else {
    await createPageBlob(control, disk.uploadSize, {
      metadata: { ...sourceIdentityToMetadata(disk.identity), [RUN_ID_METADATA]: plan.run.runId },
      signal
    })
  }
  const sink = createPageBlobSink(client)
  const alreadyWritten = resumable ? await sink.listWrittenRanges(signal) : undefined
  // Put Page takes a transactional Content-MD5 on a storage account's page blob (Put Page REST
  // reference); the service checks the body against it.
  const result = await sendDisk(ctx, {
    disk,
    target: { sink, alreadyWritten, md5: true },
    concurrency
  })
  return { url, bytesSent: result.bytesSent }
}

/** Deletes a temporary blob this run wrote (checked by its metadata), for cleanup and the post step. */
export async function deleteUploadBlob(
  deps: AzureDeps,
  upload: { url: string; storageAccountId: string; runId: string }
): Promise<string> {
  const { signal } = deps
  const { url, storageAccountId, runId } = upload
  const { resourceGroup: rg, name } = parseResourceId(storageAccountId)
  const containerName = new URL(url).pathname.split('/').filter(Boolean).slice(-2)[0]
  const account = await connectStorageAccount(deps, {
    account: { resourceGroup: rg, name },
    container: containerName
  })
  const blob = account.container.getPageBlobClient(
    decodeURIComponent(new URL(url).pathname.split('/').pop() as string)
  )
  const state = await readPageBlobState(
    createPageBlobClient(blob.url, account.credential, { sdkRetries: true }),
    signal
  )
  if (!state.exists) return `blob ${url} is already gone`
  if (state.metadata?.[RUN_ID_METADATA] !== runId)
    return `blob ${url} was not written by this run: left alone`
  await blob.delete({ abortSignal: signal })
  return `deleted temporary blob ${url}`
}
