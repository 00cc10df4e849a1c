/**
 * What to tell the user about an Azure failure, as tables: one hint per error code (as bicep-deploy
 * gathers its messages in errorMessages.ts), then a short ordered list of message patterns for the
 * codes Azure uses loosely (Conflict, BadRequest, OperationNotAllowed, InvalidParameter, HTTP 409).
 * The roles named come from roles.ts; nothing here knows the plan.
 */
import { roleForAction } from './roles.js'

/** What the run knows that makes hints concrete (all optional). */
export interface ErrorContext {
  /** GITHUB_REPOSITORY, GITHUB_REF, the job's environment and GITHUB_EVENT_NAME, for OIDC hints. */
  github?: { repository: string; ref?: string; environment?: string; eventName?: string }
  /** The `environment` in use (AzureCloud, …), named in the wrong-cloud hint. */
  cloudName?: string
}

export interface HintInput {
  code?: string
  message: string
  statusCode?: number
  operation: string
  context: ErrorContext
}

const FEDERATION_SUBJECTS = [
  'repo:<owner>/<repo>:ref:refs/heads/<branch>',
  'repo:<owner>/<repo>:ref:refs/tags/<tag>',
  'repo:<owner>/<repo>:environment:<environment>',
  'repo:<owner>/<repo>:pull_request'
]

/**
 * The subject GitHub puts in this job's OIDC token (default claims; an organisation or repository
 * may customise them), to compare with the federated credential in Entra ID.
 */
export function expectedOidcSubject(github: NonNullable<ErrorContext['github']>): string {
  const repo = `repo:${github.repository}`
  if (github.environment) return `${repo}:environment:${github.environment}`
  if (github.eventName === 'pull_request' || github.eventName === 'pull_request_target')
    return `${repo}:pull_request`
  return `${repo}:ref:${github.ref ?? 'refs/heads/<branch>'}`
}

function federationHints(context: ErrorContext): string[] {
  const lines = [
    "The federated credential on the app registration (Certificates & secrets → Federated credentials) must have issuer 'https://token.actions.githubusercontent.com', audience 'api://AzureADTokenExchange' (or the 'audience' input) and a subject that matches this job exactly."
  ]
  if (context.github)
    lines.push(`This job presents the subject '${expectedOidcSubject(context.github)}'.`)
  lines.push(`Subject formats: ${FEDERATION_SUBJECTS.join(' | ')}.`)
  return lines
}

type Hint = (input: HintInput) => string[]

/** A hint that does not depend on the message. */
const say =
  (...lines: string[]): Hint =>
  () =>
    lines

const QUOTA = say(
  'A subscription or regional quota is exhausted (the message names it): request an increase under Subscriptions → Usage + quotas, free capacity, or use another region.'
)
const REGION = say(
  "Check 'location' and 'target-regions': Azure region names without spaces, e.g. eastus, westeurope (az account list-locations --output table). Gallery and image resources exist in most but not all regions."
)
const MISSING = say(
  'Check the name, resource group and subscription of the resource named in the message.'
)
const NO_FEDERATED_CREDENTIAL: Hint = ({ context }) => [
  'No federated credential matches the GitHub OIDC token.',
  ...federationHints(context)
]
const PROPERTY_CHANGE = [
  "Azure cannot change this property of an existing resource: set 'overwrite: true' to delete and re-create it, or use a new name."
]

/** By error code, lower-cased (ARM, Storage and Entra ID `AADSTSnnnnn` codes). */
const BY_CODE: Readonly<Record<string, Hint>> = {
  authorizationfailed: ({ message }) => {
    const parsed = /perform action '([^']+)' over scope '([^']+)'/i.exec(message)
    if (!parsed) {
      return [
        'The identity lacks a permission for this operation: assign Contributor on the resource group, or the custom role printed by the permissions preflight.'
      ]
    }
    const [, action, scope] = parsed
    return [
      `The identity lacks '${action}' on '${scope}'. Assign '${roleForAction(action)}' (or Contributor) on that scope or its resource group, e.g.: az role assignment create --assignee <client-id> --role "${roleForAction(action)}" --scope ${scope}`,
      'New role assignments can take a few minutes to take effect; re-run the job afterwards.'
    ]
  },
  linkedauthorizationfailed: ({ message }) => {
    const linked = /perform action '([^']+)' on the linked scope\(s\) '([^']+)'/i.exec(message)
    return [
      linked
        ? `Azure also checks the linked resource: grant '${linked[1]}' on '${linked[2]}' (e.g. '${roleForAction(linked[1])}' there).`
        : 'Azure also checks the resources this one refers to (source VM, disk, image, storage account or gallery in another resource group or subscription): grant the identity a role there too.'
    ]
  },
  quotaexceeded: QUOTA,
  resourcequotaexceeded: QUOTA,
  skunotavailable: say(
    'The size or SKU is not offered in this region for this subscription (capacity restrictions). Choose another region or SKU; list them with: az vm list-skus --location <region> --output table'
  ),
  locationnotavailableforresourcetype: REGION,
  invalidlocation: REGION,
  nolocationfound: REGION,
  locationrequired: REGION,
  resourcegroupnotfound: say(
    "Check 'resource-group' / 'gallery-resource-group' and 'subscription-id': the group must exist in that subscription."
  ),
  resourcenotfound: MISSING,
  notfound: MISSING,
  parentresourcenotfound: MISSING,
  expiredauthenticationtoken: say(
    'The access token expired. The action fetches new tokens by itself; if this persists, check the runner clock (tokens are validated against UTC).'
  ),
  invalidauthenticationtokenaudience: ({ context }) => [
    `The token was issued for another cloud. Check 'environment' (AzureCloud, AzureUSGovernment, AzureChinaCloud, AzureStack)${
      context.cloudName ? ` (now ${context.cloudName})` : ''
    } against the cloud of the subscription.`
  ],
  invalidauthenticationtokentenant: say(
    "The subscription belongs to a different tenant than 'tenant-id': use the tenant of the subscription."
  ),
  requestdisallowedbypolicy: say(
    "An Azure Policy assignment denied the request (see the additional info for the policy). Comply with it, e.g. add required tags with the 'tags' input, or ask for an exemption."
  ),
  authorizationpermissionmismatch: say(
    'The identity may use the storage account but not its blobs: assign "Storage Blob Data Contributor" on the storage account or container.'
  ),
  keybasedauthenticationnotpermitted: say(
    'The storage account does not allow shared keys: assign "Storage Blob Data Contributor" on it so the upload uses Entra ID.'
  ),
  authorizationfailure: say(
    "The storage account's firewall or network rules reject the runner: allow its address, or use 'upload-via: managed-disk'."
  ),
  aadsts700024: say(
    'The GitHub OIDC token (the client assertion) was outside its validity window when Entra ID received it. The action asks GitHub for a new one for each Azure token; check the runner clock, and avoid handing it a pre-minted assertion.'
  ),
  aadsts70021: NO_FEDERATED_CREDENTIAL,
  aadsts700213: NO_FEDERATED_CREDENTIAL,
  aadsts700212: NO_FEDERATED_CREDENTIAL,
  aadsts700016: ({ context }) => [
    "The application 'client-id' was not found in tenant 'tenant-id': check both values (the app registration's Application (client) ID and Directory (tenant) ID).",
    ...federationHints(context)
  ],
  aadsts7000215: say(
    "Invalid client secret: check 'client-secret' (use the secret's value, not its ID) and whether it expired."
  ),
  aadsts90002: say("Tenant not found: check 'tenant-id' and 'environment'."),
  canceled: say(
    'The run was cancelled or reached timeout-minutes; the post step removes what this run created.'
  )
}

/** Node's network error codes that survive the retries. */
const NETWORK_CODES =
  /^(econnreset|etimedout|esockettimedout|econnrefused|enotfound|eai_again|epipe|enetunreach|ehostunreach)$/

/** The codes Azure uses for many refusals: only the message tells them apart. */
const LOOSE_CODES = new Set(['operationnotallowed', 'conflict', 'badrequest', 'invalidparameter'])

/** For loose codes and HTTP 409: the first pattern that matches the message (and operation) wins. */
const BY_MESSAGE: ReadonlyArray<{
  when: (message: string, code: string, operation: string) => boolean
  lines: string[]
}> = [
  // A '…Supported' gallery definition takes only VHD blob, managed image and gallery version
  // sources (hashicorp/packer-plugin-azure#304); from gallery API 2025-03-03 Azure gives every
  // definition created without a SecurityType feature TrustedLaunchSupported.
  {
    when: m => /security type '[^']*supported' is not supported for the source/i.test(m),
    lines: [
      "The gallery image definition is TrustedLaunchSupported (Azure's default since gallery API 2025-03-03 for a definition created without a SecurityType feature); such a definition takes only VHD blob, managed image and gallery image version sources, not a VM or a managed disk. Publish into a definition created with the feature SecurityType=Standard (or TrustedLaunch for a Trusted Launch VM), or also set 'image-name' so the version is made from that managed image."
    ]
  },
  {
    when: m => /trusted ?launch|securitytype|security type|confidential ?vm/i.test(m),
    lines: [
      "Managed images do not support Trusted Launch or Confidential VMs. Capture into an Azure Compute Gallery instead: set 'gallery' and 'gallery-image' and drop 'image-name'; the image definition's SecurityType feature must be TrustedLaunch (a TrustedLaunchSupported definition takes no VM as source)."
    ]
  },
  {
    when: m => /quota|limit.*exceed|exceed.*limit/i.test(m),
    lines: [
      'A quota is exhausted (the message names it): request an increase under Subscriptions → Usage + quotas, or use another region.'
    ]
  },
  {
    when: m => /run ?command/i.test(m) && /in progress|already|conflict/i.test(m),
    lines: [
      'Another Run Command is still running on the VM: wait for it to finish (or cancel it in the portal) and re-run.'
    ]
  },
  // Azure: "The operation 'Create Image' requires the Virtual Machine '<vm>' to be Generalized."
  // (ansible/ansible#37158; Learn virtual-machines/error-messages.md).
  {
    when: m =>
      /not generalized|must be generalized|generalized vm|osstate|requires the virtual machine .* to be generalized/i.test(
        m
      ),
    lines: [
      "An image of this kind needs a generalized VM: keep 'generalize: true' (and 'deprovision: true' unless the OS was generalized inside the VM), or capture a specialized image into a gallery with 'generalize: false'."
    ]
  },
  {
    when: (m, _c, operation) =>
      (/generaliz/i.test(operation) || /generaliz/i.test(m)) &&
      /running|deallocat|stopped|power ?state/i.test(m),
    // Azure takes a VM stopped by powerOff alone (REC test_vm_generalize.yaml) and refuses a running
    // one: "… since the VM is running. Please power off explicitly …" (error-messages.md, #86809).
    lines: [
      'The VM must be stopped (powered off or deallocated) before Azure marks it generalized. The action deallocates it first, so something started it again in between (a person, a schedule, another job): keep it stopped during the run, then re-run.'
    ]
  },
  {
    when: m => /already exists/i.test(m),
    lines: [
      "The target already exists: choose another name or version, or set 'overwrite: true' to replace it."
    ]
  },
  {
    when: (m, c) =>
      c === 'propertychangenotallowed' || /property change not allowed|cannot be changed/i.test(m),
    lines: PROPERTY_CHANGE
  }
]

export function hintsFor(input: HintInput): string[] {
  const c = (input.code ?? '').toLowerCase()
  const byCode = Object.hasOwn(BY_CODE, c) ? BY_CODE[c] : undefined
  if (byCode) return byCode(input)
  if (NETWORK_CODES.test(c)) {
    return [
      "A network error between the runner and Azure persisted through the retries. Check the runner's connectivity, proxy settings (HTTPS_PROXY) and Azure status."
    ]
  }
  if (LOOSE_CODES.has(c) || input.statusCode === 409) {
    const match = BY_MESSAGE.find(h => h.when(input.message, c, input.operation))
    if (match) return match.lines
  }
  return c === 'propertychangenotallowed' ? PROPERTY_CHANGE : []
}
