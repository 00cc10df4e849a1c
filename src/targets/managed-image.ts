/** The managed image target: a read-only preflight, then the image from a VM, disks or blobs. */
import type { Image, ImageDataDisk } from '@azure/arm-compute'
import { waitFor } from '../azure/operation.js'
import { getOrUndefined } from '../azure/not-found.js'
import { resourceId } from '../azure/resource-id.js'
import type { ManagedImageTarget } from '../plan.js'
import { StepFailure, type PreflightDeps, type RunContext } from '../run-context.js'
import type { ImageContent, SourceFacts } from '../source-facts.js'
import { isOwnedBy, madeBy } from '../tags.js'
import { oneLine } from '../untrusted.js'

export interface ManagedImagePreflight {
  id: string
  /** create: nothing there; reuse: this run made it already (a re-run attempt); replace: overwrite. */
  action: 'create' | 'reuse' | 'replace'
}

export async function checkManagedImage(
  deps: PreflightDeps,
  target: ManagedImageTarget
): Promise<ManagedImagePreflight> {
  const { clients, owner, signal } = deps
  const id = resourceId(target.image, 'Microsoft.Compute', 'images')
  const existing = await getOrUndefined(
    clients.compute.images.get(target.image.resourceGroup, target.image.name, {
      abortSignal: signal
    })
  )
  if (existing === undefined) return { id, action: 'create' }
  const maker = madeBy(existing.tags, owner)
  if (maker === 'earlier-attempt') {
    return { id, action: existing.provisioningState === 'Succeeded' ? 'reuse' : 'replace' }
  }
  if (maker === 'same-run') {
    // Another job of this run (a matrix leg) made it, or is making it: neither reused nor replaced,
    // even with overwrite (issue 14).
    throw new StepFailure(
      `Input 'image-name': managed image '${target.image.name}' in resource group '${target.image.resourceGroup}' was made by another job of this workflow run (run ${owner.runId}; matrix legs share the run): give each leg its own image-name, e.g. '${target.image.name}-\${{ strategy.job-index }}'.`
    )
  }
  if (!target.overwrite) {
    throw new Error(
      `Managed image '${target.image.name}' already exists in resource group '${target.image.resourceGroup}'. ` +
        `Choose another 'image-name' (e.g. with \${{ github.run_number }}), or set 'overwrite: true' to replace it.`
    )
  }
  return { id, action: 'replace' }
}

export function imageBody(
  content: ImageContent,
  source: SourceFacts,
  tags: Record<string, string>
): Image {
  const base = { location: source.location, tags, hyperVGeneration: source.hyperVGeneration }
  switch (content.kind) {
    case 'vm':
      return { ...base, sourceVirtualMachine: { id: content.vmId } }
    case 'disks':
      return {
        ...base,
        storageProfile: {
          osDisk: {
            osType: source.osType,
            osState: 'Generalized',
            managedDisk: { id: content.osDiskId }
          },
          dataDisks: content.dataDiskIds.map((id, lun): ImageDataDisk => ({
            lun,
            managedDisk: { id }
          }))
        }
      }
    case 'blobs':
      return {
        ...base,
        storageProfile: {
          osDisk: { osType: source.osType, osState: 'Generalized', blobUri: content.osBlobUri },
          dataDisks: content.dataBlobUris.map((blobUri, lun): ImageDataDisk => ({ lun, blobUri }))
        }
      }
    case 'managed-image':
      throw new Error('A managed image is not made from another managed image.')
  }
}

export interface ManagedImageOptions {
  target: ManagedImageTarget
  pre: ManagedImagePreflight
  /** Undefined only when every target was reused, so this image is too. */
  content: ImageContent | undefined
  source: SourceFacts
}

export async function createManagedImage(
  ctx: RunContext,
  options: ManagedImageOptions
): Promise<string> {
  const { target, pre, content, source } = options
  const { clients, log, signal, plan } = ctx
  const { resourceGroup, name } = target.image
  if (pre.action === 'reuse') {
    log.info(
      oneLine(`Managed image '${name}' was created by an earlier attempt of this run: reusing it`)
    )
    return pre.id
  }
  if (content === undefined) {
    throw new Error(
      `Managed image '${name}' is to be ${pre.action === 'create' ? 'created' : 'replaced'}, but this attempt has no captured or uploaded content to make it from: re-run the workflow.`
    )
  }
  if (pre.action === 'replace') {
    log.info(oneLine(`Deleting the existing managed image '${name}' (overwrite: true)`))
    await waitFor(
      `Delete image '${name}'`,
      clients.compute.images.delete(resourceGroup, name, { abortSignal: signal }),
      {
        log,
        signal
      }
    )
  }
  ctx.ledger.add({ kind: 'managed-image', id: pre.id })
  const image = await waitFor(
    `Managed image '${name}'`,
    clients.compute.images.createOrUpdate(
      resourceGroup,
      name,
      imageBody(content, source, plan.tags),
      {
        abortSignal: signal
      }
    ),
    { log, signal }
  )
  // Another leg writing the same name at the same moment would leave its key on the image: then
  // the image is not this job's to output.
  if (!isOwnedBy(image.tags, plan.owner.key)) {
    throw new StepFailure(
      `Input 'image-name': managed image '${name}' was rewritten by another job while this one created it: give each matrix leg its own image-name.`
    )
  }
  if (image.provisioningState !== 'Succeeded') {
    throw new Error(
      `Managed image '${name}' ended in provisioning state ${image.provisioningState}.`
    )
  }
  ctx.ledger.remove(pre.id)
  const id = image.id ?? pre.id
  ctx.report.created.push({ kind: 'Managed image', id, location: source.location })
  return id
}
