/**
 * The api-versions ARM routes to Microsoft.Compute for each resource type the emulator serves, and
 * ARM's answer to any other: 400 NoRegisteredProviderFound, worded as ARM words it (quoted in
 * MicrosoftDocs/azure-docs#62621 for virtualMachines/extensions, Azure/migAz#246 (400 Bad Request)
 * for locations/vmSizes, Azure/azure-cli#4914):
 *   "No registered resource provider found for location 'eastus' and API version '2018-06-30' for
 *    type 'virtualMachines/extensions'. The supported api-versions are '2015-05-01-preview, …'.
 *    The supported locations are '…'."
 * Versions per resource provider, each from a named source:
 *  - ComputeRP (virtualMachines, images, locations/operations): the list ARM itself printed for
 *    Microsoft.Compute compute types in 2020 (azure-docs#62621: 2015-05-01-preview … 2020-06-01),
 *    Learn "Microsoft.Compute resource types" (azure/templates/microsoft.compute/allversions:
 *    2020-12-01 … 2025-04-01), @azure/arm-compute 24.1.0 (2026-03-01) and 25.1.1 (2026-04-01).
 *  - DiskRP (disks, snapshots, locations/DiskOperations): spec folders DiskRP/stable/2017-03-30 …
 *    2020-05-01 and compute's 2016-04-30-preview (Azure/azure-rest-api-specs), Learn allversions
 *    (2020-12-01 … 2024-03-02), @azure/arm-compute 23.3.0/24.1.0 (2025-01-02) and 25.1.1 (2026-03-02).
 *    Not established, so refused: 2019-11-01, 2020-06-30, 2020-09-30.
 *  - GalleryRP (galleries, galleries/images, galleries/images/versions, locations/capsOperations):
 *    spec folders GalleryRP/stable/2018-06-01 … 2019-12-01, Learn allversions (2021-07-01 …
 *    2023-07-03), recordings and the spec example (2024-03-03, 2025-03-03), @azure/arm-compute
 *    25.1.1 (2025-12-03). Not established, so refused: 2020-09-30.
 * Microsoft.Network types are keyed with their namespace (`Microsoft.Network/virtualNetworks`).
 * Other namespaces (Microsoft.Storage, Microsoft.Authorization, Microsoft.Resources) are not checked.
 */
import type { Reply } from './types.js'
import { armError } from './errors.js'

const COMPUTE = [
  '2015-05-01-preview',
  '2015-06-15',
  '2016-03-30',
  '2016-04-30-preview',
  '2016-08-30',
  '2017-03-30',
  '2017-12-01',
  '2018-04-01',
  '2018-06-01',
  '2018-10-01',
  '2019-03-01',
  '2019-07-01',
  '2019-12-01',
  '2020-06-01',
  '2020-12-01',
  '2021-03-01',
  '2021-04-01',
  '2021-07-01',
  '2021-11-01',
  '2022-03-01',
  '2022-08-01',
  '2022-11-01',
  '2023-03-01',
  '2023-07-01',
  '2023-09-01',
  '2024-03-01',
  '2024-07-01',
  '2024-11-01',
  '2025-04-01',
  '2026-03-01',
  '2026-04-01'
]

const DISKS = [
  '2016-04-30-preview',
  '2017-03-30',
  '2018-04-01',
  '2018-06-01',
  '2018-09-30',
  '2019-03-01',
  '2019-07-01',
  '2020-05-01',
  '2020-12-01',
  '2021-04-01',
  '2021-08-01',
  '2021-12-01',
  '2022-03-02',
  '2022-07-02',
  '2023-01-02',
  '2023-04-02',
  '2023-10-02',
  '2024-03-02',
  '2025-01-02',
  '2026-03-02'
]

const GALLERIES = [
  '2018-06-01',
  '2019-03-01',
  '2019-07-01',
  '2019-12-01',
  '2021-07-01',
  '2021-10-01',
  '2022-01-03',
  '2022-03-03',
  '2022-08-03',
  '2023-07-03',
  '2024-03-03',
  '2025-03-03',
  '2025-12-03'
]

/**
 * Microsoft.Network: what @azure/arm-network 39.0.0 sends (2026-01-01 for every operation the
 * action uses; 2018-10-01 only for scale-set public IPs), the versions seen in recordings
 * (2014-12-01-preview: Azure/azure-xplat-cli nock recordings; 2015-06-15 and 2018-01-01: REC
 * test_vm_create_ubuntu) and spec folders checked to exist (stable/2022-01-01, stable/2025-05-01).
 * Other real versions are refused here although Azure has them (listed in the README as unverified).
 */
const NETWORK = [
  '2014-12-01-preview',
  '2015-06-15',
  '2018-01-01',
  '2018-10-01',
  '2022-01-01',
  '2025-05-01',
  '2026-01-01'
]

/** Resource type (as ARM names it, without the namespace) → accepted api-versions. */
const BY_TYPE: Record<string, string[]> = {
  virtualmachines: COMPUTE,
  'virtualmachines/runcommands': COMPUTE,
  images: COMPUTE,
  'locations/operations': COMPUTE,
  // Marketplace image catalogue (VirtualMachineImages_*) and usages, ComputeRP APIs.
  'locations/publishers': COMPUTE,
  'locations/usages': COMPUTE,
  // Resource SKUs: spec folder Skus/stable/2021-07-01, which @azure/arm-compute 25.1.1 sends.
  skus: ['2021-07-01'],
  disks: DISKS,
  snapshots: DISKS,
  'locations/diskoperations': DISKS,
  galleries: GALLERIES,
  'galleries/images': GALLERIES,
  'galleries/images/versions': GALLERIES,
  'locations/capsoperations': GALLERIES,
  'microsoft.network/virtualnetworks': NETWORK,
  'microsoft.network/virtualnetworks/subnets': NETWORK,
  'microsoft.network/networksecuritygroups': NETWORK,
  'microsoft.network/networkinterfaces': NETWORK,
  'microsoft.network/publicipaddresses': NETWORK,
  'microsoft.network/locations/operations': NETWORK
}

/** The accepted versions for a Microsoft.Compute type, or undefined when the emulator does not check it. */
export function supportedApiVersions(type: string): string[] | undefined {
  return BY_TYPE[type.toLowerCase()]
}

/**
 * ARM's refusal of an api-version the type does not have, or undefined when it is accepted (or
 * the type is not one the emulator checks). `location` is the resource's (or the group's) region.
 */
export function refuseApiVersion(
  type: string,
  apiVersion: string,
  location: string
): Reply | undefined {
  const supported = supportedApiVersions(type)
  if (!supported || supported.includes(apiVersion)) return undefined
  return armError(
    400,
    'NoRegisteredProviderFound',
    `No registered resource provider found for location '${location}' and API version '${apiVersion}' for type '${type.replace(/^Microsoft\.Network\//i, '')}'. The supported api-versions are '${supported.join(', ')}'. The supported locations are '${location}'.`
  )
}
