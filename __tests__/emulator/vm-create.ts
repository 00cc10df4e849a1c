/**
 * VirtualMachines_CreateOrUpdate from an image (Marketplace, managed image, gallery image
 * definition or version) with Azure's refusals, and DELETE honouring `deleteOption`. Each rule and
 * message names its source; the README lists them and what is unverified.
 */
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { armError, ArmFailure, fail, resourceNotFound } from './errors.js'
import { key, newGuid, parseResourceId, resourceId } from './ids.js'
import { startLro } from './lro.js'
import {
  children,
  clone,
  deleteResource,
  getResource,
  normRegion,
  putResource,
  requireResourceGroup
} from './store.js'
import { findSku, imageFacts, newestVersion, termsKey } from './marketplace.js'
import type { GuestSeed } from './vms.js'
import { attachedDiskProperties } from './disks.js'
import { quotaRefusal, type VmSizeSeed } from './usages.js'

/** What a VM takes from its image. */
interface ImageFacts {
  osType: 'Linux' | 'Windows'
  hyperVGeneration: 'V1' | 'V2'
  architecture: 'x64' | 'Arm64'
  diskSizeGB: number
  /** the image allows a Trusted Launch VM */
  trustedLaunchCapable: boolean
  /** the image allows only Trusted Launch VMs (gallery definition SecurityType TrustedLaunch) */
  trustedLaunchOnly: boolean
  plan?: { name: string; product: string; publisher: string }
  /** the body's imageReference as Azure returns it (with exactVersion for Marketplace) */
  imageReference: Body
  /** the disk's creationData reference */
  creationData: Body
}

const TL_FEATURES = [
  'trustedlaunchsupported',
  'trustedlaunchandconfidentialvmsupported',
  'trustedlaunch'
]

function invalidParameter(message: string, target?: string): never {
  fail(400, 'InvalidParameter', message, target)
}

function badRequest(message: string): never {
  fail(400, 'BadRequest', message)
}

/** The image's facts, or Azure's refusal for an image that cannot be found. */
function resolveImage(state: State, ref: Body, location: string): ImageFacts {
  if (ref?.id) return resolveImageId(state, String(ref.id), location)
  const urn = `${ref?.publisher}:${ref?.offer}:${ref?.sku}:${ref?.version}`
  const sku = findSku(state, {
    location,
    publisher: ref?.publisher ?? '',
    offer: ref?.offer ?? '',
    sku: ref?.sku ?? ''
  })
  const wanted = String(ref?.version ?? '')
  const version = !sku
    ? undefined
    : wanted.toLowerCase() === 'latest'
      ? newestVersion(sku)
      : sku.versions.find(v => v.toLowerCase() === wanted.toLowerCase())
  // 404 ImageNotFound at the request (Azure/azure-quickstart-templates#3622 quotes the body;
  // docker/machine#3676: VirtualMachinesClient#CreateOrUpdate StatusCode=404).
  if (!sku || !version)
    throw new ArmFailure(
      armError(
        404,
        'ImageNotFound',
        `The platform image '${urn}' is not available. Verify that all fields in the storage profile are correct.`,
        { target: 'imageReference' }
      )
    )
  const f = imageFacts(sku)
  const sub = state.config.subscriptionId
  return {
    osType: f.osType,
    hyperVGeneration: f.hyperVGeneration,
    architecture: f.architecture,
    diskSizeGB: f.diskSizeGB,
    trustedLaunchCapable: TL_FEATURES.includes(String(f.securityType ?? '').toLowerCase()),
    trustedLaunchOnly: false,
    plan: sku.plan,
    imageReference: {
      publisher: ref.publisher,
      offer: ref.offer,
      sku: ref.sku,
      version: ref.version,
      // Recorded on VMs made from `latest` (REC test_vm_create_ubuntu.yaml, VM GET).
      exactVersion: version
    },
    creationData: {
      createOption: 'FromImage',
      imageReference: {
        id: `/Subscriptions/${sub}/Providers/Microsoft.Compute/Locations/${normRegion(location)}/Publishers/${sku.publisher}/ArtifactTypes/VMImage/Offers/${sku.offer}/Skus/${sku.sku}/Versions/${version}`
      }
    }
  }
}

/** A managed image, a gallery image definition (its latest version) or a gallery image version. */
function resolveImageId(state: State, id: string, location: string): ImageFacts {
  const p = parseResourceId(id)
  const type = p?.type.toLowerCase() ?? ''
  if (type === 'microsoft.compute/images') {
    const img = getResource(state, id)
    if (!img) resourceNotFound('Microsoft.Compute/images', p!.names[0], p!.resourceGroup)
    // Managed images are regional: the VM must be in the image's region (unverified wording).
    if (normRegion(img.body.location) !== normRegion(location))
      invalidParameter(
        `The image '${img.id}' is in location '${img.body.location}', which is different from the virtual machine location '${location}'.`,
        'imageReference.id'
      )
    const os = img.body.properties.storageProfile.osDisk
    return {
      osType: os.osType,
      hyperVGeneration: img.body.properties.hyperVGeneration ?? 'V1',
      architecture: 'x64',
      diskSizeGB: os.diskSizeGB ?? 30,
      // Trusted Launch does not support managed images (Learn trusted-launch "Unsupported features").
      trustedLaunchCapable: false,
      trustedLaunchOnly: false,
      imageReference: { id: img.id },
      creationData: { createOption: 'FromImage', imageReference: { id: img.id } }
    }
  }
  if (
    type === 'microsoft.compute/galleries/images' ||
    type === 'microsoft.compute/galleries/images/versions'
  ) {
    const defId = type.endsWith('versions') ? id.split('/').slice(0, -2).join('/') : id
    const def = getResource(state, defId)
    const version = !def
      ? undefined
      : type.endsWith('versions')
        ? getResource(state, id)
        : latestGalleryVersion(state, defId, location)
    const inRegion = version?.body.properties.publishingProfile?.targetRegions?.some(
      (r: Body) => normRegion(r.name) === normRegion(location)
    )
    // Unverified code and wording (a common report; no quoted reply found).
    if (!def || !version || !inRegion)
      fail(
        404,
        'GalleryImageNotFound',
        `The gallery image ${id} is not available in ${normRegion(location)} region. Please contact image owner to replicate to this region, or change your requested region.`,
        'imageReference'
      )
    const props = def.body.properties
    const security = String(
      (props.features ?? []).find((f: Body) => String(f.name).toLowerCase() === 'securitytype')
        ?.value ?? ''
    ).toLowerCase()
    return {
      osType: props.osType,
      hyperVGeneration: props.hyperVGeneration ?? 'V1',
      architecture: props.architecture ?? 'x64',
      diskSizeGB: version.body.properties.storageProfile?.osDiskImage?.sizeInGB ?? 30,
      trustedLaunchCapable: TL_FEATURES.includes(security),
      trustedLaunchOnly: security === 'trustedlaunch',
      plan: props.purchasePlan
        ? {
            name: props.purchasePlan.name,
            product: props.purchasePlan.product,
            publisher: props.purchasePlan.publisher
          }
        : undefined,
      imageReference: { id },
      creationData: { createOption: 'FromImage', galleryImageReference: { id: version.id } }
    }
  }
  invalidParameter(`The value of parameter imageReference.id is invalid.`, 'imageReference.id')
}

/** The newest version not excluded from latest with a replica in the region (by publish date). */
function latestGalleryVersion(state: State, defId: string, location: string): Resource | undefined {
  return children(state, defId, 'versions')
    .filter(v => !v.body.properties.publishingProfile?.excludeFromLatest)
    .filter(v => v.body.properties.provisioningState === 'Succeeded')
    .filter(v =>
      v.body.properties.publishingProfile?.targetRegions?.some(
        (r: Body) => normRegion(r.name) === normRegion(location)
      )
    )
    .sort((a, b) =>
      String(a.body.properties.publishingProfile?.publishedDate).localeCompare(
        String(b.body.properties.publishingProfile?.publishedDate)
      )
    )
    .at(-1)
}

/**
 * adminUsername rules: the spec's OSProfile.adminUsername description ("Windows-only restriction:
 * Cannot end in '.'", the disallowed values, max 64 Linux / 20 Windows, min 1), with the reply
 * `InvalidParameter` "The Admin Username specified is not allowed." target `adminUsername`
 * (MicrosoftDocs/azure-docs#27881, Azure/azure-cli#582, microsoft/vscode-azurevirtualmachines#157).
 */
const DISALLOWED_USERNAMES = [
  'administrator',
  'admin',
  'user',
  'user1',
  'test',
  'user2',
  'test1',
  'user3',
  'admin1',
  '1',
  '123',
  'a',
  'actuser',
  'adm',
  'admin2',
  'aspnet',
  'backup',
  'console',
  'david',
  'guest',
  'john',
  'owner',
  'root',
  'server',
  'sql',
  'support',
  'support_388945a0',
  'sys',
  'test2',
  'test3',
  'user4',
  'user5'
]

function checkUsername(name: unknown, osType: string): void {
  const n = String(name ?? '')
  const max = osType === 'Windows' ? 20 : 64
  if (
    !n ||
    n.length > max ||
    DISALLOWED_USERNAMES.includes(n.toLowerCase()) ||
    (osType === 'Windows' && n.endsWith('.'))
  )
    invalidParameter('The Admin Username specified is not allowed.', 'adminUsername')
}

/**
 * adminPassword rules (spec OSProfile.adminPassword: 8-123 Windows, 6-72 Linux, 3 of lower/upper/
 * digit/special `[\W_]`, disallowed values). Reply as quoted in hashicorp/terraform#6542 (Linux
 * limits; the Windows text with 8-123 is unverified).
 */
const DISALLOWED_PASSWORDS = [
  'abc@123',
  'P@$$w0rd',
  'P@ssw0rd',
  'P@ssword123',
  'Pa$$word',
  'pass@word1',
  'Password!',
  'Password1',
  'Password22',
  'iloveyou!'
]

function checkPassword(password: string, osType: string): void {
  const [min, max] = osType === 'Windows' ? [8, 123] : [6, 72]
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[\W_]/].filter(r => r.test(password)).length
  if (
    password.length < min ||
    password.length > max ||
    classes < 3 ||
    DISALLOWED_PASSWORDS.includes(password)
  )
    invalidParameter(
      `The supplied password must be between ${min}-${max} characters long and must satisfy at least 3 of password complexity requirements from the following: \r\n1) Contains an uppercase character\r\n2) Contains a lowercase character\r\n3) Contains a numeric digit\r\n4) Contains a special character.`,
      'adminPassword'
    )
}

/**
 * OpenSSH public keys Azure takes: ssh-rsa of at least 2048 bits and ssh-ed25519 (Learn
 * "Supported SSH key formats"). Anything else: `InvalidParameter` "The value of parameter
 * linuxConfiguration.ssh.publicKeys.keyData is invalid." (MicrosoftDocs/azure-docs#27848: 400 at
 * the request; MicrosoftDocs/azure-docs#74103, Azure/azure-cli#22725 for the body).
 */
export function validSshKey(keyData: string): boolean {
  const m = /^(ssh-rsa|ssh-ed25519) ([A-Za-z0-9+/]+={0,2})(\s.*)?$/.exec(keyData.trim())
  if (!m) return false
  const blob = Buffer.from(m[2], 'base64')
  const read = (at: number): [Buffer, number] | undefined => {
    if (at + 4 > blob.length) return undefined
    const len = blob.readUInt32BE(at)
    if (at + 4 + len > blob.length) return undefined
    return [blob.subarray(at + 4, at + 4 + len), at + 4 + len]
  }
  const type = read(0)
  if (!type || type[0].toString() !== m[1]) return false
  if (m[1] === 'ssh-ed25519') {
    const k = read(type[1])
    return !!k && k[0].length === 32
  }
  const e = read(type[1])
  const n = e && read(e[1])
  if (!n) return false
  const modulus = n[0][0] === 0 ? n[0].subarray(1) : n[0]
  return modulus.length * 8 >= 2048
}

function checkOsProfile(os: Body | undefined, osType: string): void {
  if (!os) invalidParameter("Required parameter 'osProfile' is missing (null).", 'osProfile')
  checkUsername(os.adminUsername, osType)
  const linux = os.linuxConfiguration ?? {}
  const keys: Body[] = linux.ssh?.publicKeys ?? []
  if (osType === 'Linux') {
    for (const k of keys) {
      if (!validSshKey(String(k.keyData ?? '')))
        invalidParameter(
          'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.',
          'linuxConfiguration.ssh.publicKeys.keyData'
        )
      // The key path must be the admin's authorized_keys (spec SshPublicKey.path example; the
      // reply's wording follows the keyData one: unverified).
      if (k.path !== undefined && k.path !== `/home/${os.adminUsername}/.ssh/authorized_keys`)
        invalidParameter(
          'The value of parameter linuxConfiguration.ssh.publicKeys.path is invalid.',
          'linuxConfiguration.ssh.publicKeys.path'
        )
    }
    if (linux.disablePasswordAuthentication === true && keys.length === 0)
      invalidParameter(
        'The value of parameter linuxConfiguration.ssh.publicKeys is invalid.',
        'linuxConfiguration.ssh.publicKeys'
      )
  }
  const password = os.adminPassword
  if (osType === 'Windows' || linux.disablePasswordAuthentication !== true) {
    if (password === undefined || password === null || password === '')
      invalidParameter("Required parameter 'adminPassword' is missing (null).", 'adminPassword')
    checkPassword(String(password), osType)
  }
}

function findSize(state: State, name: string, location: string): VmSizeSeed | undefined {
  return state.vmSizes.find(
    s =>
      s.name.toLowerCase() === name.toLowerCase() &&
      (!s.locations || s.locations.some(l => normRegion(l) === normRegion(location)))
  )
}

function checkSize(
  state: State,
  name: string,
  location: string,
  facts: ImageFacts,
  trustedLaunch: boolean
): VmSizeSeed {
  const size = findSize(state, name, location)
  // viya4-iac-azure#116: VirtualMachinesClient#CreateOrUpdate StatusCode=400 InvalidParameter.
  if (!size) {
    const valid = state.vmSizes
      .filter(s => !s.locations || s.locations.some(l => normRegion(l) === normRegion(location)))
      .map(s => s.name)
    invalidParameter(
      `The value ${name} provided for the VM size is not valid. The valid sizes in the current region are: ${valid.join(',')}.`
    )
  }
  // 409 at the request (Azure-Samples/azuresandbox#70, Azure/azure-cli#32628).
  if (size.notAvailableIn?.some(l => normRegion(l) === normRegion(location)))
    fail(
      409,
      'SkuNotAvailable',
      `The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: ${size.name}' is currently not available in location '${normRegion(location)}'. Please try another size or deploy to a different location or different zone. See https://aka.ms/azureskunotavailable for details.`
    )
  // 400 BadRequest at the request (hashicorp/terraform-provider-azurerm#7454; text with the
  // aka.ms tail: loft-sh/devpod#731, redhat-developer/mapt#489).
  if (!size.hyperVGenerations.includes(facts.hyperVGeneration)) {
    const g = facts.hyperVGeneration === 'V2' ? '2' : '1'
    badRequest(
      `The selected VM size '${size.name}' cannot boot Hypervisor Generation '${g}'. If this was a Create operation please check that the Hypervisor Generation of the Image matches the Hypervisor Generation of the selected VM Size. If this was an Update operation please select a Hypervisor Generation '${g}' VM Size. For more information, see https://aka.ms/azuregen2vm`
    )
  }
  // Architecture mismatch: the rule is Azure's (Arm64 images need Arm64 sizes, Learn
  // "Azure VMs with Ampere Altra Arm-based processors"); the wording is unverified.
  if (size.architecture !== facts.architecture)
    badRequest(
      `The selected VM size '${size.name}' cannot boot an image with CPU Architecture '${facts.architecture}'. Please select a VM size that supports CPU Architecture '${facts.architecture}'.`
    )
  const overQuota = quotaRefusal(state, location, size)
  if (overQuota) fail(409, 'OperationNotAllowed', overQuota)
  // Azure/azure-cli#28005 (Microsoft's table of the November 2023 messages).
  if (trustedLaunch && size.trustedLaunchDisabled)
    badRequest(
      `The VM size '${size.name}' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type. For more information, see https://aka.ms/TrustedLaunch-FAQ`
    )
  return size
}

function checkSecurity(facts: ImageFacts, trustedLaunch: boolean): void {
  // Azure/azure-cli#27975 (the reply as received in 2023; Gen1 or untagged image).
  if (trustedLaunch && (!facts.trustedLaunchCapable || facts.hyperVGeneration !== 'V2'))
    badRequest(
      'Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch Supported Gen2 OS Image. For more information, see https://aka.ms/TrustedLaunch-FAQ.'
    )
  // kubermatic/machine-controller#2013 (400 at the request), Azure/build-vm-image#32.
  if (!trustedLaunch && facts.trustedLaunchOnly)
    badRequest(
      "The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type."
    )
}

/** NICs: each must exist, be in the VM's region and be free. Returns the NIC resources. */
function checkNics(state: State, vmId: string, location: string, nics: Body[]): Resource[] {
  if (!nics.length)
    invalidParameter("Required parameter 'networkProfile' is missing (null).", 'networkProfile')
  return nics.map(n => {
    const id = String(n.id ?? '')
    const p = parseResourceId(id)
    const nic = getResource(state, id)
    // hashicorp/terraform-provider-azurerm#5255 (ARM's not-found wording for the NIC).
    if (!nic || !p)
      resourceNotFound(
        'Microsoft.Network/networkInterfaces',
        p?.names[0] ?? id,
        p?.resourceGroup ?? ''
      )
    // Unverified wording; the rule (a VM's NICs are in its region) is Azure's.
    if (normRegion(nic.body.location) !== normRegion(location))
      invalidParameter(
        `The network interface '${nic.id}' is in location '${nic.body.location}', which is different from the virtual machine location '${location}'.`,
        'networkProfile.networkInterfaces'
      )
    const owner = nic.body.properties.virtualMachine?.id
    if (owner && key(owner) !== key(vmId))
      fail(
        400,
        'NicInUse',
        `Network Interface ${nic.id} is used by existing resource ${owner}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`
      )
    return nic
  })
}

/** The guest every VM created from an image runs (tests may change it with `setNewVmGuest`). */
export function newVmGuest(state: State): GuestSeed {
  return { ...(state.newVmGuest ?? {}) }
}

export function putVm(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const existing = getResource(state, id)
  if (existing) return updateVmTags(ctx, existing, body)
  const location = String(body.location ?? '')
  // ARM's reply for a tracked resource without location (unverified for VMs).
  if (!location)
    fail(400, 'LocationRequired', 'The location property is required for this definition.')
  const props = body.properties ?? {}
  const sp = props.storageProfile ?? {}
  const facts = resolveImage(state, sp.imageReference, location)
  const trustedLaunch =
    String(props.securityProfile?.securityType ?? '').toLowerCase() === 'trustedlaunch'
  const size = checkSize(
    state,
    String(props.hardwareProfile?.vmSize ?? ''),
    location,
    facts,
    trustedLaunch
  )
  checkSecurity(facts, trustedLaunch)
  checkOsProfile(props.osProfile, facts.osType)
  const wantedSize = sp.osDisk?.diskSizeGB
  // 409 OperationNotAllowed at the request, target osDisk.diskSizeGB (hitachienergy/epiphany#1049,
  // Azure/azure-sdk-for-python#23051 ResourceExistsError = 409, skypilot-org/skypilot#2219 Conflict).
  if (wantedSize !== undefined && Number(wantedSize) < facts.diskSizeGB)
    fail(
      409,
      'OperationNotAllowed',
      `The specified disk size ${wantedSize} GB is smaller than the size of the corresponding disk in the VM image: ${facts.diskSizeGB} GB. This is not allowed. Please choose equal or greater size or do not specify an explicit size.`,
      'osDisk.diskSizeGB'
    )
  // Terms of a plan named on the VM are checked at the request: 400 ResourcePurchaseValidationFailed
  // (PaloAltoNetworks/terraform-templates#14: CreateOrUpdate StatusCode=400; text of today's reply:
  // nforgeio/neonKUBE#1673).
  const plan = body.plan
  if (facts.plan && plan && !state.acceptedTerms.has(termsKey(facts.plan)))
    fail(
      400,
      'ResourcePurchaseValidationFailed',
      `User failed validation to purchase resources. Error message: 'You have not accepted the legal terms on this subscription: '${state.config.subscriptionId}' for this plan. Before the subscription can be used, you need to accept the legal terms of the image. To read and accept legal terms, use the Azure CLI commands described at https://go.microsoft.com/fwlink/?linkid=2110637 or the PowerShell commands available at https://go.microsoft.com/fwlink/?linkid=862451. Alternatively, deploying via the Azure portal provides a UI experience for reading and accepting the legal terms. Offer details: publisher='${facts.plan.publisher}' offer = '${facts.plan.product}', sku = '${facts.plan.name}', Correlation Id: '${newGuid()}'.'`
    )
  const nicRefs: Body[] = props.networkProfile?.networkInterfaces ?? []
  const nics = checkNics(state, id, location, nicRefs)
  // Without the plan the create is accepted and fails in the operation: "waiting for creation"
  // (Azure/sap-automation#433, openshift/installer#7721, kubermatic/machine-controller#788).
  const planMissing =
    facts.plan &&
    (!plan ||
      String(plan.name).toLowerCase() !== facts.plan.name.toLowerCase() ||
      String(plan.product).toLowerCase() !== facts.plan.product.toLowerCase() ||
      String(plan.publisher).toLowerCase() !== facts.plan.publisher.toLowerCase())
  if (planMissing && !ctx.failOperation)
    ctx.failOperation = {
      code: 'VMMarketplaceInvalidInput',
      message: `Creating a virtual machine from Marketplace image or a custom image sourced from a Marketplace image requires Plan information in the request. VM: '${id}'.`
    }

  const name = p.names[0]
  const osDiskName = sp.osDisk?.name ?? `${name}_OsDisk_1_${newGuid().replace(/-/g, '')}`
  const diskSku = sp.osDisk?.managedDisk?.storageAccountType ?? 'Premium_LRS'
  const diskSizeGB = Number(wantedSize ?? facts.diskSizeGB)
  const osDiskId = resourceId(
    state.config.subscriptionId,
    p.resourceGroup,
    'Microsoft.Compute',
    'disks',
    osDiskName
  )
  const { adminPassword: _secret, ...osProfile } = props.osProfile
  void _secret
  const vmBody: Body = {
    name,
    id,
    type: 'Microsoft.Compute/virtualMachines',
    location,
    tags: body.tags ?? {},
    ...(plan ? { plan: { ...plan } } : {}),
    properties: {
      vmId: newGuid(),
      hardwareProfile: { vmSize: size.name },
      provisioningState: 'Creating',
      ...(props.securityProfile ? { securityProfile: clone(props.securityProfile) } : {}),
      storageProfile: {
        imageReference: facts.imageReference,
        osDisk: {
          osType: facts.osType,
          name: osDiskName,
          createOption: 'FromImage',
          caching: sp.osDisk?.caching ?? 'ReadWrite',
          managedDisk: { storageAccountType: diskSku, id: osDiskId },
          // The default is Detach (spec OSDisk.deleteOption).
          deleteOption: sp.osDisk?.deleteOption ?? 'Detach',
          diskSizeGB
        },
        dataDisks: []
      },
      osProfile: {
        computerName: osProfile.computerName ?? name,
        adminUsername: osProfile.adminUsername,
        ...(facts.osType === 'Linux'
          ? {
              linuxConfiguration: {
                disablePasswordAuthentication:
                  osProfile.linuxConfiguration?.disablePasswordAuthentication ?? false,
                ...(osProfile.linuxConfiguration?.ssh
                  ? { ssh: clone(osProfile.linuxConfiguration.ssh) }
                  : {}),
                provisionVMAgent: true,
                patchSettings: { patchMode: 'ImageDefault', assessmentMode: 'ImageDefault' }
              }
            }
          : {
              windowsConfiguration: {
                provisionVMAgent: true,
                enableAutomaticUpdates: true,
                patchSettings: { patchMode: 'AutomaticByOS', assessmentMode: 'ImageDefault' }
              }
            }),
        secrets: [],
        allowExtensionOperations: true,
        requireGuestProvisionSignal: true
      },
      networkProfile: {
        networkInterfaces: nicRefs.map((n, i) => ({
          id: nics[i].id,
          properties: {
            ...(n.properties?.primary !== undefined ? { primary: n.properties.primary } : {}),
            deleteOption: n.properties?.deleteOption ?? 'Detach'
          }
        }))
      },
      timeCreated: new Date().toISOString()
    }
  }
  // The NICs belong to the VM from the request on (a NIC delete meanwhile gets NicInUse).
  for (const nic of nics) nic.body.properties.virtualMachine = { id }
  const vm = putResource(state, {
    id,
    type: 'Microsoft.Compute/virtualMachines',
    body: vmBody,
    state: {
      powerState: 'starting',
      generalized: false,
      hyperVGeneration: facts.hyperVGeneration,
      architecture: facts.architecture,
      guestDeprovisioned: false,
      agentRunning: false,
      guest: newVmGuest(state),
      pollsToStop: state.config.sysprepPollsToStop,
      stopCountdown: -1,
      restarts: 0,
      rebootRequired: false
    }
  })
  return startLro(ctx, {
    name: 'virtualMachines/PUT',
    kind: 'operations',
    region: location,
    initialStatus: 201,
    resourceId: id,
    initialBody: () => clone(vm.body),
    complete: () => {
      createOsDisk(state, vm, osDiskId, osDiskName, diskSku, diskSizeGB, facts, trustedLaunch)
      vm.body.properties.provisioningState = 'Succeeded'
      vm.state.powerState = 'running'
      vm.state.agentRunning = true
      return clone(vm.body)
    },
    fail: () => {
      // A VM whose create failed stays, Failed, and keeps its NICs (Azure leaves failed VMs).
      vm.body.properties.provisioningState = 'Failed'
      vm.state.powerState = 'stopped'
    }
  })
}

function createOsDisk(
  state: State,
  vm: Resource,
  id: string,
  name: string,
  sku: string,
  sizeGB: number,
  facts: ImageFacts,
  trustedLaunch: boolean
): void {
  putResource(state, {
    id,
    type: 'Microsoft.Compute/disks',
    state: {},
    body: {
      id,
      name,
      type: 'Microsoft.Compute/disks',
      location: vm.body.location,
      tags: {},
      managedBy: vm.id,
      sku: { name: sku, tier: sku.startsWith('Premium') ? 'Premium' : 'Standard' },
      properties: {
        osType: facts.osType,
        hyperVGeneration: facts.hyperVGeneration,
        supportedCapabilities: { architecture: facts.architecture },
        ...(trustedLaunch ? { securityProfile: { securityType: 'TrustedLaunch' } } : {}),
        ...attachedDiskProperties(sizeGB, facts.creationData)
      }
    }
  })
}

/** A PUT of an existing VM: tags only (the action never updates a VM otherwise). */
function updateVmTags(ctx: Ctx, vm: Resource, body: Body): Reply {
  if (body.tags) vm.body.tags = { ...body.tags }
  return { status: 200, body: clone(vm.body) }
}

/**
 * After the VM is gone: `deleteOption: Delete` deletes the OS disk, data disks and NICs with it;
 * `Detach` (the default) leaves them, unattached (spec OSDisk/DataDisk/NetworkInterfaceReference
 * `deleteOption`; Learn "Delete a VM and attached resources").
 */
export function releaseVmResources(state: State, vm: Resource): void {
  // Child resources (managed run commands) go with their VM, as ARM deletes nested resources.
  for (const rc of children(state, vm.id, 'runCommands')) deleteResource(state, rc.id)
  const sp = vm.body.properties.storageProfile
  for (const d of [sp.osDisk, ...(sp.dataDisks ?? [])]) {
    const disk = d?.managedDisk?.id ? getResource(state, d.managedDisk.id) : undefined
    if (!disk) continue
    if (String(d.deleteOption ?? 'Detach').toLowerCase() === 'delete')
      deleteResource(state, disk.id)
    else {
      delete disk.body.managedBy
      disk.body.properties.diskState = 'Unattached'
    }
  }
  for (const n of vm.body.properties.networkProfile?.networkInterfaces ?? []) {
    const nic = getResource(state, n.id)
    if (!nic) continue
    if (String(n.properties?.deleteOption ?? 'Detach').toLowerCase() === 'delete') {
      for (const c of nic.body.properties.ipConfigurations ?? []) {
        const pip = c.properties?.publicIPAddress?.id
          ? getResource(state, c.properties.publicIPAddress.id)
          : undefined
        if (pip) delete pip.body.properties.ipConfiguration
      }
      deleteResource(state, nic.id)
    } else delete nic.body.properties.virtualMachine
  }
}
