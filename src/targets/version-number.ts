/** Gallery image version numbers: X.Y.Z, three non-negative 32-bit integers, ordered numerically. */

const MAX = 2147483647

export function isValidVersion(value: string): boolean {
  const parts = value.split('.')
  return parts.length === 3 && parts.every(p => /^\d{1,10}$/.test(p) && Number(p) <= MAX)
}

/** `auto`: <UTC yyyy>.<UTC month*100+day>.<run number>, e.g. 2026.1126.42. */
export function autoVersion(now: Date, runNumber: number): string {
  const monthDay = (now.getUTCMonth() + 1) * 100 + now.getUTCDate()
  return `${now.getUTCFullYear()}.${monthDay}.${Number.isFinite(runNumber) ? runNumber : 0}`
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  }
  return 0
}
