/**
 * Azure's naming rules for the resources the inputs name, as data: what a value must match and how
 * to say so. From https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules
 * (Microsoft.Resources, Microsoft.Compute, Microsoft.Storage). No input handling here: input-readers.ts
 * turns a broken rule into an InputError naming the input.
 */

export interface NameRule {
  test(value: string): boolean
  /** Completes "'<value>' is not …": 'a gallery name'. */
  kind: string
  /** What is allowed, in words. */
  rule: string
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Subscription, tenant and client IDs. */
export function isGuid(value: string): boolean {
  return GUID.test(value)
}

/** A tenant may also be named by one of its domains (contoso.onmicrosoft.com). */
export function isTenantDomain(value: string): boolean {
  return /^[a-z0-9.-]+\.[a-z]{2,}$/i.test(value)
}

export const RESOURCE_GROUP_NAME: NameRule = {
  test: v => /^[-\w._()]{1,90}$/.test(v) && !v.endsWith('.'),
  kind: 'a valid resource group name',
  rule: "1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'"
}

/** Images and gallery image definitions. */
export const COMPUTE_NAME: NameRule = {
  test: v => /^[A-Za-z0-9][-\w.]{0,79}$/.test(v) && !/[.-]$/.test(v),
  kind: 'a valid name',
  rule: "1-80 letters, digits, '_', '-' or '.', starting with a letter or digit and not ending in '.' or '-'"
}

export const GALLERY_NAME: NameRule = {
  test: v => /^[A-Za-z0-9][\w.]{0,79}$/.test(v) && !v.endsWith('.'),
  kind: 'a gallery name',
  rule: "letters, digits, '_' and '.', up to 80, not ending in '.'; no hyphens"
}

/** A definition's publisher, offer and SKU. */
export const IMAGE_IDENTIFIER_PART: NameRule = {
  test: v => /^[A-Za-z0-9][-\w.]{0,127}$/.test(v),
  kind: 'valid',
  rule: "letters, digits, '-', '_' and '.', up to 128"
}

export const STORAGE_ACCOUNT_NAME: NameRule = {
  test: v => /^[a-z0-9]{3,24}$/.test(v),
  kind: 'a storage account name',
  rule: '3-24 lower-case letters and digits'
}

export const CONTAINER_NAME: NameRule = {
  test: v => /^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(v),
  kind: 'a container name',
  rule: '3-63 lower-case letters, digits and single hyphens'
}
