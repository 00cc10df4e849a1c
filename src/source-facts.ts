/** What the targets need to know about the image source, whichever mode produced it. */
import type { Architecture, HyperVGeneration, OsState, OsType, SecurityType } from './plan.js'

export interface SourceFacts {
  osType: OsType
  /** The state the image will have: Generalized after a generalizing capture, else Specialized. */
  osState: OsState
  hyperVGeneration: HyperVGeneration
  architecture: Architecture
  securityType: SecurityType | 'ConfidentialVM'
  /** Normalised region of the source. */
  location: string
  /**
   * A Marketplace purchase plan the image carries (build mode): a gallery definition the action
   * creates must name it, or VMs made from the image cannot be created.
   */
  purchasePlan?: { name: string; publisher: string; product: string }
  /** The source's disks (OS first) with their sizes, when read: Full gallery replication limits them. */
  disks?: SourceDisk[]
}

export interface SourceDisk {
  /** As the user knows it: the managed disk's name, or the image file's path. */
  name: string
  sizeGiB: number
}

/** Where a gallery image version or managed image takes its content from. */
export type ImageContent =
  | { kind: 'vm'; vmId: string }
  | { kind: 'managed-image'; imageId: string }
  | { kind: 'disks'; osDiskId: string; dataDiskIds: string[] }
  | { kind: 'blobs'; storageAccountId: string; osBlobUri: string; dataBlobUris: string[] }
