/** The `target-regions` input: `region[=replicas[=storage-type]]`, newline or comma separated. */
import { isRegionName, normaliseRegion } from '../azure/region.js'
import { GALLERY_STORAGE_ACCOUNT_TYPES as STORAGE_TYPES, type TargetRegion } from '../plan.js'

export function parseTargetRegions(value: string): TargetRegion[] {
  const regions = new Map<string, TargetRegion>()
  for (const entry of value
    .split(/[\n,]/)
    .map(s => s.trim())
    .filter(s => s !== '')) {
    const [rawName, replicas, storage, ...extra] = entry.split('=').map(s => s.trim())
    if (extra.length > 0 || rawName === '') {
      throw new Error(`'${entry}' is not region[=replicas[=storage-type]].`)
    }
    const name = normaliseRegion(rawName)
    if (!isRegionName(name)) throw new Error(`'${rawName}' is not a region name.`)
    const region: TargetRegion = { name }
    if (replicas !== undefined && replicas !== '') {
      if (!/^\d+$/.test(replicas) || Number(replicas) < 1 || Number(replicas) > 100) {
        throw new Error(
          `replicas for '${rawName}' must be a whole number from 1 to 100, got '${replicas}'.`
        )
      }
      region.replicas = Number(replicas)
    }
    if (storage !== undefined) {
      const match = STORAGE_TYPES.find(t => t.toLowerCase() === storage.toLowerCase())
      if (match === undefined) {
        throw new Error(
          `storage type for '${rawName}' must be one of ${STORAGE_TYPES.join(' | ')}, got '${storage}'.`
        )
      }
      region.storageAccountType = match
    }
    if (regions.has(name)) throw new Error(`region '${rawName}' is listed twice.`)
    regions.set(name, region)
  }
  return [...regions.values()]
}

/** The regions a version is published to: the source region first (Azure requires it), then the rest. */
export function withSourceRegion(regions: TargetRegion[], sourceRegion: string): TargetRegion[] {
  const source = normaliseRegion(sourceRegion)
  const own = regions.find(r => r.name === source) ?? { name: source }
  return [own, ...regions.filter(r => r.name !== source)]
}
