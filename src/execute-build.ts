/**
 * Build mode's writing steps, in order: replace what an earlier attempt of this job left, the
 * network, the VM, the customization scripts, then the capture path capture mode uses
 * (guest generalization, deallocate, mark generalized: the same functions, not a copy). And the
 * removal of the temporary resources once the image source is no longer needed, which execute.ts
 * starts while the gallery version replicates.
 */
import { ProvenanceTag } from './constants.js'
import { parseResourceId } from './azure/resource-id.js'
import { generateAdminCredential } from './build/admin-credential.js'
import {
  buildDeletionOrder,
  deleteBuildResource,
  type BuildCleanupDeps
} from './build/build-cleanup.js'
import { createBuildNetwork } from './build/build-network.js'
import { createBuildVm } from './build/build-vm.js'
import { runCustomization } from './build/customize.js'
import { generalizeGuest } from './capture/guest-generalization.js'
import { deallocateVm, markGeneralized } from './capture/generalize-vm.js'
import { readVm } from './capture/vm-facts.js'
import { cleanUp } from './cleanup.js'
import { buildResourceIds } from './ledger.js'
import type { Plan } from './plan.js'
import type { Preflight } from './preflight.js'
import type { RunContext } from './run-context.js'
import type { ImageContent } from './source-facts.js'
import { oneLine } from './untrusted.js'
import { errorMessage } from './error-message.js'

type BuildPreflight = Extract<Preflight, { mode: 'build' }>

/** Azure's limit on a tag value; a long gallery version ID is cut to it. */
const TAG_VALUE_LIMIT = 256

/** The plan with the `base-image` provenance tag (the resolved image) on everything created. */
export function withBaseImageTag(plan: Plan, provenance: string): Plan {
  return {
    ...plan,
    tags: { ...plan.tags, [ProvenanceTag.BaseImage]: provenance.slice(0, TAG_VALUE_LIMIT) }
  }
}

function cleanupDeps(ctx: RunContext, signal: AbortSignal): BuildCleanupDeps {
  return { clients: ctx.clients, ownerKey: ctx.plan.owner.key, log: ctx.log, signal }
}

/** The `az` commands that delete a kept build VM and its network, for the summary. */
export function deleteCommands(ctx: RunContext, pre: BuildPreflight): string[] {
  const { plan } = ctx
  const ids = buildResourceIds(
    { subscriptionId: plan.subscriptionId, resourceGroup: plan.resourceGroup },
    pre.settings.names
  )
  return [
    // deleteOption Delete: the OS disk and the NIC go with the VM.
    `az vm delete --ids ${ids.vm} --yes`,
    `az network nsg delete --ids ${ids.nsg}`,
    ...(pre.settings.subnet ? [] : [`az network vnet delete --ids ${ids.vnet}`])
  ]
}

/**
 * `keep-build-vm` keeps the VM (and what it needs to run: disk, NIC, NSG, network): its entries
 * leave the ledger, so neither the main step nor the post step deletes them, and the summary says
 * how to delete them.
 */
function keepBuildVm(ctx: RunContext, pre: BuildPreflight, why: string): void {
  for (const e of ctx.ledger.entries()) if (e.kind === 'build-resource') ctx.ledger.remove(e.id)
  const commands = deleteCommands(ctx, pre)
  ctx.log.info(oneLine(`Keeping build VM '${pre.settings.names.vm}' (${why}). Delete it with:`))
  for (const c of commands) ctx.log.info(oneLine(`  ${c}`))
  ctx.report.sections.push({
    title: 'Build VM kept',
    markdown: `Build VM \`${pre.settings.names.vm}\` was kept (${why}). It is billed until deleted; delete it and its network with:\n\n\`\`\`sh\n${commands.join('\n')}\n\`\`\``
  })
}

/**
 * Every target was made by an earlier attempt of this job, which stopped before it removed its
 * build VM and network (killed, say, while the version replicated): nothing is built again, but
 * those leftovers are no longer needed. They join the ledger, so the removal after the targets
 * deletes them (and the post step retries what it could not), unless `keep-build-vm: true` asked
 * for the VM and the earlier attempt got as far as creating it (chaos seed 150069095).
 */
export function adoptEarlierBuild(ctx: RunContext, pre: BuildPreflight): void {
  const { leftovers } = pre.build
  if (leftovers.length === 0) return
  const ids = buildResourceIds(
    { subscriptionId: ctx.plan.subscriptionId, resourceGroup: ctx.plan.resourceGroup },
    pre.settings.names
  )
  const vmLeft = leftovers.some(id => id.toLowerCase() === ids.vm.toLowerCase())
  if (pre.settings.keepBuildVm === 'true' && vmLeft) {
    keepBuildVm(ctx, pre, 'keep-build-vm: true; made by an earlier attempt of this job')
    return
  }
  for (const id of leftovers) ctx.ledger.add({ kind: 'build-resource', id })
}

/** Creates the build VM, runs the scripts, generalizes it; returns what the image is made from. */
export async function buildAndCapture(ctx: RunContext, pre: BuildPreflight): Promise<ImageContent> {
  const { settings, build } = pre
  if (build.leftovers.length > 0) {
    await ctx.step('Remove what an earlier attempt left', async () => {
      // In the ledger first: what cannot be deleted now is the post step's to delete, not
      // forgotten (chaos seed 627003111: an NSG whose delete ended Failed was left).
      const leftovers = new Set(build.leftovers)
      for (const id of leftovers) ctx.ledger.add({ kind: 'build-resource', id })
      const { failed } = await cleanUp(
        { ...cleanupDeps(ctx, ctx.signal), ledger: ctx.ledger },
        e => e.kind === 'build-resource' && leftovers.has(e.id)
      )
      if (failed.length > 0) throw new Error(failed.join('; '))
    })
  }
  // Masked the moment it exists (the runner's setSecret), held in memory only, dropped after the VM PUT.
  const credential = generateAdminCredential(build.image.osType, secret => ctx.log.secret(secret))
  const network = await ctx.step('Create the build network', () =>
    createBuildNetwork(ctx, settings.names, build.location, build.subnet)
  )
  const vmId = await ctx.step('Create the build VM', () =>
    createBuildVm(ctx, {
      settings,
      location: build.location,
      image: build.image,
      credential,
      nicId: network.nicId,
      securityType: build.vmSecurityType
    })
  )
  const { subscriptionId, resourceGroup } = parseResourceId(vmId)
  const vmRef = { subscriptionId, resourceGroup, name: settings.names.vm }
  try {
    // Each script opens its own log group and step (groups do not nest).
    await runCustomization(ctx, { vm: vmRef, osType: build.image.osType, scripts: pre.scripts })
  } catch (e) {
    // A failed script (not a cancellation or time-out): the VM is what there is to debug.
    if (settings.keepBuildVm !== 'false' && !ctx.signal.aborted)
      keepBuildVm(ctx, pre, `keep-build-vm: ${settings.keepBuildVm}, customization failed`)
    throw e
  }
  const vm = await readVm(ctx.clients, vmRef, ctx.signal)
  await ctx.step('Generalize the OS (Run Command)', () => generalizeGuest(ctx, vm))
  await ctx.step('Deallocate VM', () => deallocateVm(ctx, vm))
  await ctx.step('Mark VM generalized', () => markGeneralized(ctx, vm))
  if (settings.keepBuildVm === 'true') keepBuildVm(ctx, pre, 'keep-build-vm: true')
  return { kind: 'vm', vmId: vm.id }
}

/**
 * Deletes the build's temporary resources still in the ledger (VM first, network last), each one
 * leaving the ledger once it is gone. A deletion that fails is a warning with what is left: the
 * image already exists, so the run does not fail for it.
 */
export async function removeBuildResources(ctx: RunContext): Promise<void> {
  // Not the run's signal alone: a time-out while the gallery replicates must not leave them half-deleted.
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(30 * 60_000)])
  const entries = ctx.ledger
    .entries()
    .filter(e => e.kind === 'build-resource')
    .sort((a, b) => buildDeletionOrder(a.id) - buildDeletionOrder(b.id))
  for (const entry of entries) {
    try {
      const what = await deleteBuildResource(cleanupDeps(ctx, signal), entry.id)
      ctx.log.info(oneLine(`Build cleanup: ${what}`))
      ctx.ledger.remove(entry.id)
    } catch (e) {
      const message = `Deleting ${entry.id} failed: ${errorMessage(e)}`
      ctx.log.warning(oneLine(message))
      ctx.report.notes.push(oneLine(message))
    }
  }
}
