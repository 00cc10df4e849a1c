/** Region names, normalised one way wherever they are compared or stored. */

/** Azure's region names are display names with spaces removed, lower-cased: 'East US' → 'eastus'. */
export function normaliseRegion(region: string): string {
  return region.replace(/\s+/g, '').toLowerCase()
}

/** Whether a normalised name can be a region name (letters and digits only). */
export function isRegionName(normalised: string): boolean {
  return /^[a-z0-9]+$/.test(normalised)
}
