/** Region names, normalised one way wherever they are compared or stored. */

/** Azure's region names are display names with spaces removed, lower-cased: 'East US' → 'eastus'. */
export function normaliseRegion(region: string): string {
  return region.replace(/\s+/g, '').toLowerCase()
}
