/**
 * Upload as page blobs into the user's storage account. The blob endpoint comes from ARM and must
 * be the account's in this cloud (clouds.ts blobEndpointProblem); the blob service is reached with
 * the same Entra ID credential and the cloud's storage scope (Storage Blob Data Contributor), and
 * with the account key read through ARM only when the service says the identity has no data role
 * there (isMissingDataRole), saying so; never after a firewall refusal or a network error.
 */
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient
} from '@azure/storage-blob'
import type { TokenCredential } from '@azure/identity'
import type { StorageAccount } from '@azure/arm-storage'
import { blobEndpointProblem } from '../azure/clouds.js'
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
import { uploadNameBase } from './managed-disk-destination.js'
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

/**
 * Blob metadata names must be C# identifiers: the run id goes in as `githubrunid`, the job's owner
 * key (tags.ts ownerKey) as `githubownerkey`. Resume and cleanup act only on a blob whose owner key
 * is this job's, exactly: every matrix leg shares the run id (issue 14).
 */
const RUN_ID_METADATA = 'githubrunid'
const OWNER_KEY_METADATA = 'githubownerkey'

/** Whether a blob's metadata names this job as its writer. */
export function blobOwnedBy(metadata: Record<string, string> | undefined, key: string): boolean {
  return metadata?.[OWNER_KEY_METADATA] === key
}

interface StorageRefusal {
  statusCode?: number
  code?: string
}

/**
 * The identity reached the blob service but has no data-plane role there: 403
 * AuthorizationPermissionMismatch, "This request is not authorized to perform this operation using
 * this permission." (Storage Explorer issues #3767 and #6889 quote it for a bearer token; Azure CLI
 * tells the user to assign 'Storage Blob Data Contributor' for it, Azure/azure-cli#11345). This is
 * the one reply after which the account key may work where the token did not.
 *
 * Not 403 AuthorizationFailure, "This request is not authorized to perform this operation.": that
 * is what a storage firewall or virtual-network rule answers (Storage Explorer #8183, #8344, #9150,
 * all labelled firewall; Azure CLI #11345 prints "The request may be blocked by network rules of
 * storage account" for it). The key would be refused the same way, so reading it would only widen
 * what the run holds. Nor any network error or other status.
 */
export function isMissingDataRole(e: unknown): boolean {
  const { statusCode, code } = e as StorageRefusal
  return statusCode === 403 && code === 'AuthorizationPermissionMismatch'
}

function refusalError(
  accountName: string,
  e: unknown,
  networkRules: string | undefined
): Error | undefined {
  const { statusCode, code } = e as StorageRefusal
  if (statusCode !== 403 || code !== 'AuthorizationFailure') return undefined
  return new Error(
    `Storage account '${accountName}' refused the request (403 AuthorizationFailure): its firewall or virtual network rules${networkRules ? ` (default action ${networkRules})` : ''} most likely do not admit this runner. ` +
      `The account key would be refused the same way, so it was not read. Allow the runner's network on the account (Networking), or use upload-via: managed-disk.`,
    { cause: e }
  )
}

/** The account's properties and its blob endpoint, refused unless it is where credentials may go. */
async function readBlobEndpoint(
  deps: AzureDeps,
  account: { resourceGroup: string; name: string }
): Promise<{ props: StorageAccount; blobEndpoint: string }> {
  const { clients, signal } = deps
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
  // Checked before any token or key is sent there (security review finding 6).
  const problem = blobEndpointProblem(clients.cloud, account.name, blobEndpoint)
  if (problem) {
    throw new Error(
      `Storage account '${account.name}': Azure Resource Manager named the blob endpoint ${oneLine(blobEndpoint)}, where no credential is sent: ${oneLine(problem)}.`
    )
  }
  return { props, blobEndpoint }
}

/** The container through the account key read through ARM (listKeys), masked in the log. */
async function connectWithAccountKey(
  deps: AzureDeps,
  target: { account: { resourceGroup: string; name: string }; container: string },
  found: { id: string; blobEndpoint: string; networkRules: string | undefined }
): Promise<PreparedAccount> {
  const { clients, log, signal } = deps
  const { account, container } = target
  const { id, blobEndpoint, networkRules } = found
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
  try {
    await keyed.createIfNotExists({ abortSignal: signal })
  } catch (e) {
    throw refusalError(account.name, e, networkRules) ?? e
  }
  return { id, blobEndpoint, container: keyed, credential, auth: 'account-key' }
}

export async function connectStorageAccount(
  deps: AzureDeps,
  target: { account: { resourceGroup: string; name: string }; container: string }
): Promise<PreparedAccount> {
  const { clients, log, signal } = deps
  const { account, container } = target
  const { props, blobEndpoint } = await readBlobEndpoint(deps, account)
  const id = props.id as string
  const scope = clients.cloud.storageScope
  const plainHttp = new URL(blobEndpoint).protocol !== 'https:'
  if (scope === undefined || plainHttp) {
    // No Entra ID token goes there: the SDK never sends one over http (only a blob service on
    // this machine may be http: blobEndpointProblem), and see Cloud.storageScope.
    log.info(
      oneLine(
        `Storage account '${account.name}': using the account key read through ARM (listKeys): ${plainHttp ? 'its blob endpoint on this machine is plain http, where no token is sent' : `${clients.cloud.name} with Microsoft Entra ID sign-in gets no storage token`}.`
      )
    )
  } else {
    // `audience` is the token scope as is: without `/.default` Entra refuses a client-credentials
    // request (AADSTS1002012).
    const entra = new BlobServiceClient(blobEndpoint, clients.credential, {
      audience: scope
    }).getContainerClient(container)
    try {
      await entra.createIfNotExists({ abortSignal: signal })
      log.info(oneLine(`Storage account '${account.name}': signed in with Microsoft Entra ID`))
      return {
        id,
        blobEndpoint,
        container: entra,
        credential: clients.credential,
        auth: 'entra-id'
      }
    } catch (e) {
      if (!isMissingDataRole(e)) {
        throw refusalError(account.name, e, props.networkRuleSet?.defaultAction) ?? e
      }
      log.warning(
        oneLine(
          `Storage account '${account.name}' answered 403 AuthorizationPermissionMismatch: the identity has no data role on it. Falling back to the account key read through ARM (listKeys). ` +
            `Grant the identity 'Storage Blob Data Contributor' on the account to avoid shared keys.`
        )
      )
    }
  }
  return connectWithAccountKey(deps, target, {
    id,
    blobEndpoint,
    networkRules: props.networkRuleSet?.defaultAction
  })
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
  const blob = account.container.getPageBlobClient(
    uploadBlobName(uploadNameBase(plan), plan.run.runId, disk.lun)
  )
  const url = blob.url
  const client = createPageBlobClient(url, account.credential)
  const control = createPageBlobClient(url, account.credential, { sdkRetries: true })
  const state = await readPageBlobState(control, signal)
  const key = plan.owner.key
  if (state.exists && !blobOwnedBy(state.metadata, key)) {
    // Another job's (a matrix leg with the same blob name) or anyone else's: never resumed,
    // replaced or listed for cleanup.
    const other = state.metadata?.[RUN_ID_METADATA] === plan.run.runId
    throw new Error(
      `Blob ${url} already exists and was not written by this job${other ? ` (another job of run ${plan.run.runId} wrote it: matrix legs with the same image name or definition share the blob name)` : ''}: choose another storage-container, or delete it.`
    )
  }
  const resumable =
    state.exists &&
    state.size === disk.uploadSize &&
    sameSourceIdentity(sourceIdentityFromMetadata(state.metadata), disk.identity)
  ctx.ledger.add({ kind: 'upload-blob', url, storageAccountId: account.id })
  if (resumable) {
    log.info(oneLine(`Resuming the upload into ${url} left by an earlier attempt of this job`))
  } else {
    // Over this job's own earlier blob only if it is still the one read (ETag); else only where
    // none is, so a blob another job creates meanwhile is never overwritten.
    await createPageBlob(control, disk.uploadSize, {
      metadata: {
        ...sourceIdentityToMetadata(disk.identity),
        [RUN_ID_METADATA]: plan.run.runId,
        [OWNER_KEY_METADATA]: key
      },
      signal,
      ifMatch: state.exists ? state.etag : undefined
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

/**
 * Deletes a temporary blob this job wrote, for cleanup and the post step: re-read right before, kept
 * unless its owner key is this job's exactly, and deleted only if it is still the blob read (Delete
 * Blob with If-Match: the service answers 412 ConditionNotMet when it changed in between).
 */
export async function deleteUploadBlob(
  deps: AzureDeps,
  upload: { url: string; storageAccountId: string; ownerKey: string }
): Promise<string> {
  const { signal } = deps
  const { url, storageAccountId, ownerKey } = upload
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
  if (!blobOwnedBy(state.metadata, ownerKey))
    return `blob ${url} is not this job's (owner key): left alone`
  try {
    await blob.delete({ abortSignal: signal, conditions: { ifMatch: state.etag } })
  } catch (e) {
    if ((e as StorageRefusal).statusCode === 412)
      return `blob ${url} changed after it was read (ETag): left alone`
    throw e
  }
  return `deleted temporary blob ${url}`
}
