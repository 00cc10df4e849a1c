/**
 * Ending a managed-disk upload that did not finish. Azure checks the VHD footer when write access is
 * revoked: a disk whose last 512 bytes are not a VHD footer gets 400 `InvalidVhd` ("The specified
 * cookie value in VHD footer indicates that disk 'abcd' … is not a supported VHD. Disk is expected to
 * have cookie value 'conectix'.") and stays `ActiveUpload`, billed, with its write SAS open
 * (microsoft/AzureStorageExplorer#6347, #6654, #7996, #8800). The uploader writes the footer last,
 * so every failed or cancelled upload lacks it. Such a disk is "sealed" first: the fixed-VHD footer
 * of its size is written at its end, so the revoke is accepted and the disk can be deleted.
 */
import type { Disk } from '@azure/arm-compute'
import type { AzureClients } from '../azure/clients.js'
import { describeAzureError } from '../azure/errors.js'
import { waitFor } from '../azure/operation.js'
import type { Logger } from '../log.js'
import { maskUrlSecrets } from '../secrets.js'
import { oneLine } from '../untrusted.js'
import { createPageBlobClient, createPageBlobSink } from './page-blob-sink.js'
import { buildFixedVhdFooter, VHD_FOOTER_SIZE } from './vhd-footer.js'

/** One footer write is one 512-byte Put Page; this bounds it even when the run is being cancelled. */
const SEAL_TRY_MS = 20_000
const SEAL_TRIES = 3
/** Write access granted again only to write the footer (post step): a few minutes is plenty. */
const RESEAL_ACCESS_SECONDS = 10 * 60

/**
 * Writes `footer` (default: a fixed-VHD footer for the disk's size) into the last 512 bytes of an
 * upload disk through its write SAS. Uses its own time limit, not the run's signal: it runs after
 * the run was aborted.
 */
export async function sealUploadDisk(
  sasUrl: string,
  uploadSizeBytes: number,
  footer?: Buffer
): Promise<void> {
  const body = footer ?? buildFixedVhdFooter({ virtualSize: uploadSizeBytes - VHD_FOOTER_SIZE })
  const sink = createPageBlobSink(createPageBlobClient(sasUrl), { tryTimeoutMs: SEAL_TRY_MS })
  for (let attempt = 1; ; attempt++) {
    try {
      await sink.writePages(
        body,
        uploadSizeBytes - VHD_FOOTER_SIZE,
        undefined,
        AbortSignal.timeout(SEAL_TRY_MS)
      )
      return
    } catch (e) {
      if (attempt >= SEAL_TRIES) throw e
    }
  }
}

export interface ReleaseDeps {
  clients: AzureClients
  log: Logger
  signal: AbortSignal
}

/**
 * Revokes access to an upload disk. If Azure refuses because the VHD footer is missing (a main step
 * killed before it could seal the disk), grants write access once more, writes the footer and
 * revokes again. That second grant on an `ActiveUpload` disk is what a resumed upload does too;
 * no recording shows Azure's answer to it (see the emulator README).
 */
export async function revokeUploadAccess(
  deps: ReleaseDeps,
  resourceGroup: string,
  disk: Disk & { name: string }
): Promise<void> {
  const { clients, log, signal } = deps
  const name = disk.name
  const revoke = (): Promise<void> =>
    waitFor(
      `Revoke access to disk '${name}'`,
      clients.compute.disks.revokeAccess(resourceGroup, name, { abortSignal: signal }),
      { log, signal }
    )
  try {
    await revoke()
    return
  } catch (e) {
    const size = disk.creationData?.uploadSizeBytes
    if (
      describeAzureError(e, 'revoke').code !== 'InvalidVhd' ||
      disk.diskState !== 'ActiveUpload' ||
      size === undefined
    )
      throw e
    log.info(
      oneLine(
        `Disk '${name}' holds an unfinished upload without a VHD footer, which Azure requires before it revokes access: writing the footer`
      )
    )
    const access = await waitFor(
      `Grant write access to disk '${name}' to write its footer`,
      clients.compute.disks.grantAccess(
        resourceGroup,
        name,
        { access: 'Write', durationInSeconds: RESEAL_ACCESS_SECONDS },
        { abortSignal: signal }
      ),
      { log, signal }
    )
    if (!access.accessSAS) throw e
    maskUrlSecrets(access.accessSAS, log.secret)
    await sealUploadDisk(access.accessSAS, size)
    await revoke()
  }
}
