/**
 * Build mode's inputs (`base-image`, `vm-size`, `customize`, `customize-scripts`, `subnet-id`,
 * `os-disk-size-gb`, `keep-build-vm`), read into a BuildSource. Called from inputs.ts readSource;
 * nothing here talks to Azure (the base image is resolved in the preflight).
 */
import { Inputs } from './constants.js'
import { isGuid, RESOURCE_GROUP_NAME } from './azure/names.js'
import { tryParseResourceId, type ParsedResourceId } from './azure/resource-id.js'
import { bool, InputError, integer, named, oneOf, text, type InputReader } from './input-readers.js'
import {
  KEEP_BUILD_VM,
  OS_TYPES,
  SECURITY_TYPES,
  type BaseImage,
  type BuildNames,
  type BuildSource,
  type Owner,
  type SubnetRef
} from './plan.js'

/** Where names that are not full resource IDs live, as far as the inputs say. */
interface Scope {
  subscriptionId: string | undefined
  resourceGroup: string | undefined
}

/**
 * Marketplace publisher, offer and SKU names: letters, digits, '-', '_' and '.' (the VM image API's
 * names, e.g. `Canonical:ubuntu-24_04-lts:server`, `MicrosoftWindowsServer:WindowsServer:2022-datacenter-azure-edition`).
 */
const URN_PART = /^[A-Za-z0-9][-\w.]{0,127}$/
/** A Marketplace image version: `latest`, or numbers and dots (`24.04.202611250`). */
const URN_VERSION = /^(latest|\d+(\.\d+){0,3})$/i

const URN_EXAMPLE = 'Canonical:ubuntu-24_04-lts:server:latest'

/** `base-image` as one of its four forms; anything else is an InputError that shows them. */
export function parseBaseImage(value: string, subscriptionId: string | undefined): BaseImage {
  if (!value.startsWith('/')) {
    const parts = value.split(':')
    if (
      parts.length !== 4 ||
      !parts.slice(0, 3).every(p => URN_PART.test(p)) ||
      !URN_VERSION.test(parts[3])
    ) {
      throw new InputError(
        Inputs.BaseImage,
        `expected a Marketplace URN publisher:offer:sku:version (version 'latest' or numbers such as 24.04.202611250, e.g. '${URN_EXAMPLE}'), or the ID of a managed image, a gallery image definition or a gallery image version; got '${value}'.`
      )
    }
    const [publisher, offer, sku, version] = parts
    return {
      kind: 'marketplace',
      publisher,
      offer,
      sku,
      version: version.toLowerCase() === 'latest' ? 'latest' : version
    }
  }
  const id = computeId(Inputs.BaseImage, value, subscriptionId)
  const types = id.types.map(t => t.toLowerCase()).join('/')
  const gallery = { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup }
  switch (types) {
    case 'images':
      return { kind: 'managed-image', image: { ...gallery, name: id.name } }
    case 'galleries/images':
      return {
        kind: 'gallery-definition',
        gallery: { ...gallery, name: id.names[0] },
        definition: id.names[1]
      }
    case 'galleries/images/versions':
      return {
        kind: 'gallery-version',
        gallery: { ...gallery, name: id.names[0] },
        definition: id.names[1],
        version: id.names[2]
      }
    default:
      throw new InputError(
        Inputs.BaseImage,
        `'${value}' is not the ID of a managed image (…/providers/Microsoft.Compute/images/<name>), a gallery image definition (…/galleries/<gallery>/images/<definition>) or a gallery image version (…/images/<definition>/versions/<X.Y.Z>).`
      )
  }
}

/**
 * A Microsoft.Compute or Microsoft.Network ID in an input, in the subscription the action works in:
 * every client is bound to that one, so another subscription's resource could not be read.
 */
function computeId(
  input: string,
  value: string,
  subscriptionId: string | undefined,
  provider = 'Microsoft.Compute'
): ParsedResourceId {
  const id = tryParseResourceId(value)
  if (id === undefined || id.provider.toLowerCase() !== provider.toLowerCase()) {
    throw new InputError(
      input,
      `'${value}' is not a ${provider} resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/${provider}/…).`
    )
  }
  if (!isGuid(id.subscriptionId)) {
    throw new InputError(input, `the subscription in '${value}' is not a GUID.`)
  }
  named(input, id.resourceGroup, RESOURCE_GROUP_NAME)
  // A name of '.' or '..' would address another resource once it is in a URL path.
  if (id.names.some(n => n === '.' || n === '..' || /[?#]/.test(n))) {
    throw new InputError(input, `'${value}' has a name Azure does not allow.`)
  }
  if (
    subscriptionId !== undefined &&
    id.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()
  ) {
    throw new InputError(
      input,
      `is in subscription ${id.subscriptionId}, but the action works in ${subscriptionId}: set 'subscription-id' to ${id.subscriptionId}, or use a resource in ${subscriptionId}.`
    )
  }
  return id
}

function readSubnet(read: InputReader, subscriptionId: string | undefined): SubnetRef | undefined {
  const value = text(read, Inputs.SubnetId)
  if (value === undefined) return undefined
  const id = computeId(Inputs.SubnetId, value, subscriptionId, 'Microsoft.Network')
  if (id.types.map(t => t.toLowerCase()).join('/') !== 'virtualnetworks/subnets') {
    throw new InputError(
      Inputs.SubnetId,
      `expected a subnet ID (/subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>), got '${value}'.`
    )
  }
  return {
    vnet: { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name: id.names[0] },
    subnet: id.names[1]
  }
}

/**
 * VM sizes as Azure names them (`Standard_D2s_v5`, `Basic_A1`); whether the region offers one is
 * checked in the preflight (Compute usages and the VM's creation).
 */
const VM_SIZE = /^(Standard|Basic)_[A-Za-z0-9]+(_[A-Za-z0-9]+)*$/i

/** The subscription a build input's full resource ID names, for the contract's subscription default. */
export function buildSubscription(read: InputReader): string | undefined {
  for (const name of [Inputs.BaseImage, Inputs.SubnetId]) {
    const id = tryParseResourceId(text(read, name) ?? '')
    if (id !== undefined && isGuid(id.subscriptionId)) return id.subscriptionId
  }
  return undefined
}

/**
 * The temporary resources' names: `vmimage-` and 10 hex digits of the owner key (the same in every
 * attempt of this job with these inputs), so two jobs never share a name and a re-run attempt finds
 * its own. The computer name fits Windows' 15 characters.
 */
export function buildNames(owner: Owner): BuildNames {
  const key = owner.key.slice(0, 10).toLowerCase()
  const prefix = `vmimage-${key}`
  return {
    vm: `${prefix}-vm`,
    computerName: `vmimage${key.slice(0, 8)}`,
    osDisk: `${prefix}-osdisk`,
    nic: `${prefix}-nic`,
    nsg: `${prefix}-nsg`,
    vnet: `${prefix}-vnet`,
    subnet: 'build'
  }
}

/**
 * Inputs of the other modes that would mean nothing here: refused rather than silently ignored
 * (only those without an action.yml default can be told apart from unset).
 */
function refuseOtherModes(read: InputReader): void {
  for (const name of [Inputs.OsType, Inputs.DataVhds]) {
    if (text(read, name) !== undefined) {
      throw new InputError(
        name,
        name === Inputs.OsType
          ? `is not used in build mode: the OS type comes from 'base-image' (one of ${OS_TYPES.join(' | ')}).`
          : `is only used in upload mode (mode is 'build').`
      )
    }
  }
  // The build VM is always generalized (a golden image); these only fit a VM the user owns.
  if (!bool(read, Inputs.Generalize, true)) {
    throw new InputError(
      Inputs.Generalize,
      `'false' is not available in build mode: the build VM is always deprovisioned and generalized.`
    )
  }
  if (oneOf(read, Inputs.Deprovision, ['auto', 'true', 'false'] as const, 'auto') === 'false') {
    throw new InputError(
      Inputs.Deprovision,
      `'false' is not available in build mode: the build VM is always deprovisioned before it is generalized.`
    )
  }
  for (const name of [Inputs.BackupSnapshot, Inputs.DeleteSourceVm]) {
    if (bool(read, name, false)) {
      throw new InputError(name, `is only used in capture mode (mode is 'build').`)
    }
  }
}

export function readBuild(
  read: InputReader,
  scope: Scope,
  baseImage: string,
  owner: Owner
): BuildSource {
  refuseOtherModes(read)
  const vmSize = text(read, Inputs.VmSize) ?? 'Standard_D2s_v5'
  if (!VM_SIZE.test(vmSize)) {
    throw new InputError(
      Inputs.VmSize,
      `expected an Azure VM size such as 'Standard_D2s_v5', got '${vmSize}'.`
    )
  }
  const scripts = (text(read, Inputs.CustomizeScripts) ?? '')
    .split(/\r?\n/)
    .map(s => s.trim())
    .filter(s => s !== '')
  const osDisk = text(read, Inputs.OsDiskSizeGb)
  const securityType = text(read, Inputs.SecurityType)
  return {
    mode: 'build',
    baseImage: parseBaseImage(baseImage, scope.subscriptionId),
    vmSize,
    customizeScripts: scripts,
    // The inline script as given (its own indentation and trailing lines are the user's).
    customize: text(read, Inputs.Customize) === undefined ? undefined : read(Inputs.Customize),
    subnet: readSubnet(read, scope.subscriptionId),
    // Azure's OS disks go up to 4,095 GiB (managed disk sizes; larger only as data disks).
    osDiskSizeGb: osDisk === undefined ? undefined : integer(read, Inputs.OsDiskSizeGb, 0, 1, 4095),
    keepBuildVm: oneOf(read, Inputs.KeepBuildVm, KEEP_BUILD_VM, 'false'),
    securityType:
      securityType === undefined
        ? undefined
        : oneOf(read, Inputs.SecurityType, SECURITY_TYPES, 'Standard'),
    names: buildNames(owner)
  }
}
