/** Names of the action's inputs, outputs and saved state, in one place (as actions/cache does). */

export const Inputs = {
  AuthType: 'auth-type',
  ClientId: 'client-id',
  TenantId: 'tenant-id',
  ClientSecret: 'client-secret',
  SubscriptionId: 'subscription-id',
  Environment: 'environment',
  ResourceManagerEndpoint: 'resource-manager-endpoint',
  Audience: 'audience',
  ResourceGroup: 'resource-group',
  Location: 'location',
  Mode: 'mode',
  SourceVm: 'source-vm',
  Generalize: 'generalize',
  Deprovision: 'deprovision',
  BackupSnapshot: 'backup-snapshot',
  DeleteSourceVm: 'delete-source-vm',
  BaseImage: 'base-image',
  VmSize: 'vm-size',
  Customize: 'customize',
  CustomizeScripts: 'customize-scripts',
  SubnetId: 'subnet-id',
  OsDiskSizeGb: 'os-disk-size-gb',
  KeepBuildVm: 'keep-build-vm',
  Vhd: 'vhd',
  DataVhds: 'data-vhds',
  OsType: 'os-type',
  OsState: 'os-state',
  HyperVGeneration: 'hyper-v-generation',
  Architecture: 'architecture',
  SecurityType: 'security-type',
  UploadVia: 'upload-via',
  UploadDiskSku: 'upload-disk-sku',
  StorageAccount: 'storage-account',
  StorageContainer: 'storage-container',
  UploadConcurrency: 'upload-concurrency',
  KeepUpload: 'keep-upload',
  ImageName: 'image-name',
  Overwrite: 'overwrite',
  Gallery: 'gallery',
  GalleryImage: 'gallery-image',
  GalleryResourceGroup: 'gallery-resource-group',
  GalleryImageVersion: 'gallery-image-version',
  CreateGalleryImage: 'create-gallery-image',
  Publisher: 'publisher',
  Offer: 'offer',
  Sku: 'sku',
  TargetRegions: 'target-regions',
  ReplicaCount: 'replica-count',
  StorageAccountType: 'storage-account-type',
  ReplicationMode: 'replication-mode',
  ExcludeFromLatest: 'exclude-from-latest',
  EndOfLifeDate: 'end-of-life-date',
  KeepVersions: 'keep-versions',
  Tags: 'tags',
  ProvenanceTags: 'provenance-tags',
  TimeoutMinutes: 'timeout-minutes',
  DryRun: 'dry-run'
} as const

export const Outputs = {
  ImageId: 'image-id',
  ManagedImageId: 'managed-image-id',
  GalleryImageVersionId: 'gallery-image-version-id',
  GalleryImageVersion: 'gallery-image-version',
  Location: 'location',
  BackupSnapshotIds: 'backup-snapshot-ids',
  UploadedBytes: 'uploaded-bytes',
  BaseImageVersion: 'base-image-version'
} as const

export const State = {
  /** Set by the main step; its presence tells the single bundle that it runs as the post step. */
  IsPost: 'isPost',
  /** JSON list of temporary or unfinished resources this run created (see cleanup/ledger). */
  Ledger: 'ledger',
  /**
   * The run's nonce once the main step finished successfully: the post step then does nothing.
   * (Not 'true': a `::save-state` printed by a guest cannot guess it.)
   */
  Succeeded: 'succeeded',
  /**
   * A random value the main step writes first thing; the ledger and `succeeded` count only when they
   * carry it (issue 14: state written by anything else must not steer the cleanup).
   */
  Nonce: 'nonce',
  /** JSON of the connection settings (no secrets) the post step needs to reach Azure again. */
  Connection: 'connection'
} as const

/** Tag names of the provenance tags; `github-run-id` also marks what a run may clean up or reuse. */
export const ProvenanceTag = {
  Repository: 'github-repository',
  Sha: 'github-sha',
  Ref: 'github-ref',
  Workflow: 'github-workflow',
  RunId: 'github-run-id',
  RunAttempt: 'github-run-attempt',
  /**
   * The owner key (see ownerKey): which job of which run made a resource, with which inputs. What
   * cleanup and re-run reuse act on; always set, like github-run-id.
   */
  OwnerKey: 'github-owner-key',
  /** Build mode: the base image with its resolved version (`publisher:offer:sku:version` or an ID). */
  BaseImage: 'base-image'
} as const
