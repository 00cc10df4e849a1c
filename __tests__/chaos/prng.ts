/**
 * The campaign's seeded random numbers: mulberry32 (a 32-bit state, public-domain algorithm by
 * Tommy Ettinger), small enough to write here rather than add a dependency. Same seed, same draws.
 */
export interface Rng {
  /** [0, 1) */
  next(): number
  /** an integer in [min, max] */
  int(min: number, max: number): number
  pick<T>(items: readonly T[]): T
  /** items with weights: `[[value, weight], …]` */
  weighted<T>(items: ReadonlyArray<readonly [T, number]>): T
  chance(p: number): boolean
}

export function rng(seed: number): Rng {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: items => items[Math.floor(next() * items.length)],
    weighted: items => {
      const total = items.reduce((s, [, w]) => s + w, 0)
      let r = next() * total
      for (const [value, w] of items) {
        r -= w
        if (r < 0) return value
      }
      return items[items.length - 1][0]
    },
    chance: p => next() < p
  }
}

/** The seed of run `index` of a campaign: one draw per index, so any run replays on its own. */
export function runSeed(campaignSeed: number, index: number): number {
  return Math.floor(rng((campaignSeed >>> 0) ^ Math.imul(index + 1, 0x9e3779b1)).next() * 2 ** 31)
}
