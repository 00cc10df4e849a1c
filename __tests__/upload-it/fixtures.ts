/**
 * Builders of small, sparse disk-image fixtures (our own writers: qemu-img is not installed).
 * Every 512-byte sector of written data is stamped with its virtual offset, so a page written
 * at the wrong place breaks the hash.
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { buildFixedVhdFooter, vhdChecksum, VHD_FOOTER_SIZE } from '../../src/upload/vhd-footer.js'

export const KiB = 1024
export const MiB = 1024 * KiB

export interface Write {
  offset: number
  length: number
}

/** Deterministic non-zero content for [offset, offset+length), stamped per sector. */
export function pattern(offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length)
  const sector = Buffer.alloc(512)
  for (let s = offset - (offset % 512); s < offset + length; s += 512) {
    sector.fill(((s / 512) % 251) + 1)
    sector.writeDoubleBE(s, 0)
    const from = Math.max(s, offset)
    const to = Math.min(s + 512, offset + length)
    sector.copy(buf, from - offset, from - s, to - s)
  }
  return buf
}

/** The virtual disk's content as a function: zeros except the writes (later writes win). */
export function virtualBytes(offset: number, length: number, writes: readonly Write[]): Buffer {
  const buf = Buffer.alloc(length)
  for (const w of writes) {
    const start = Math.max(offset, w.offset)
    const end = Math.min(offset + length, w.offset + w.length)
    if (start < end) pattern(start, end - start).copy(buf, start - offset)
  }
  return buf
}

/** SHA-256 of the expected fixed VHD: the virtual disk followed by `footer`. */
export function expectedSha256(
  virtualSize: number,
  writes: readonly Write[],
  footer: Buffer
): string {
  const hash = createHash('sha256')
  for (let at = 0; at < virtualSize; at += 4 * MiB)
    hash.update(virtualBytes(at, Math.min(4 * MiB, virtualSize - at), writes))
  hash.update(footer)
  return hash.digest('hex')
}

export function nonZeroBytes(writes: readonly Write[]): number {
  // Writes in fixtures don't overlap, and pattern() never yields a zero sector.
  return writes.reduce((s, w) => s + w.length, 0)
}

/** A raw image: ftruncate to `virtualSize` (sparse) and write the data. */
export async function writeRawImage(
  path: string,
  virtualSize: number,
  writes: readonly Write[]
): Promise<void> {
  const fh = await open(path, 'w')
  try {
    await fh.truncate(virtualSize)
    for (const w of writes) await fh.write(pattern(w.offset, w.length), 0, w.length, w.offset)
  } finally {
    await fh.close()
  }
}

export async function writeFixedVhd(
  path: string,
  virtualSize: number,
  writes: readonly Write[],
  uniqueId?: string
): Promise<Buffer> {
  await writeRawImage(path, virtualSize, writes)
  const footer = buildFixedVhdFooter({ virtualSize, uniqueId, creatorApplication: 'win ' })
  const fh = await open(path, 'r+')
  try {
    await fh.write(footer, 0, VHD_FOOTER_SIZE, virtualSize)
  } finally {
    await fh.close()
  }
  return footer
}

/** A dynamic-VHD footer (type 3, header at 512), as Hyper-V/qemu write it. */
export function dynamicFooter(virtualSize: number, uniqueId?: string): Buffer {
  const footer = buildFixedVhdFooter({ virtualSize, uniqueId, creatorApplication: 'win ' })
  footer.writeBigUInt64BE(512n, 16)
  footer.writeUInt32BE(3, 60)
  footer.writeUInt32BE(vhdChecksum(footer), 64)
  return footer
}

export interface DynamicVhdOptions {
  blockSize?: number
  /** Blocks to allocate that stay all zeros (allocated-but-empty, as file systems leave them). */
  zeroBlocks?: number[]
  /** Allocate blocks in reverse order in the file, so file order ≠ disk order. */
  reverse?: boolean
  uniqueId?: string
  diskType?: number
}

/**
 * Writes a dynamic VHD per the spec: footer copy, header (cxsparse), BAT, blocks (sector bitmap
 * padded to 512 B + data), footer. Returns the footer.
 */
export async function writeDynamicVhd(
  path: string,
  virtualSize: number,
  writes: readonly Write[],
  options: DynamicVhdOptions = {}
): Promise<Buffer> {
  const blockSize = options.blockSize ?? 2 * MiB
  const entries = Math.ceil(virtualSize / blockSize)
  const footer = dynamicFooter(virtualSize, options.uniqueId)
  if (options.diskType !== undefined) {
    footer.writeUInt32BE(options.diskType, 60)
    footer.writeUInt32BE(vhdChecksum(footer), 64)
  }
  const header = Buffer.alloc(1024)
  header.write('cxsparse', 0, 'latin1')
  header.writeBigUInt64BE(0xffffffffffffffffn, 8)
  header.writeBigUInt64BE(1536n, 16)
  header.writeUInt32BE(0x00010000, 24)
  header.writeUInt32BE(entries, 28)
  header.writeUInt32BE(blockSize, 32)
  header.writeUInt32BE(vhdChecksum(header, 36), 36)
  const batBytes = Math.ceil((entries * 4) / 512) * 512
  const bat = Buffer.alloc(batBytes, 0xff)
  const used = new Set<number>(options.zeroBlocks ?? [])
  for (const w of writes) {
    for (let b = Math.floor(w.offset / blockSize); b * blockSize < w.offset + w.length; b++)
      used.add(b)
  }
  const order = [...used].sort((a, b) => a - b)
  if (options.reverse) order.reverse()
  const bitmapSize = Math.ceil(Math.ceil(blockSize / 512 / 8) / 512) * 512
  let next = 1536 + batBytes
  const fh = await open(path, 'w')
  try {
    await fh.write(footer, 0, 512, 0)
    await fh.write(header, 0, 1024, 512)
    for (const b of order) {
      bat.writeUInt32BE(next / 512, b * 4)
      await fh.write(Buffer.alloc(bitmapSize, 0xff), 0, bitmapSize, next)
      const length = Math.min(blockSize, virtualSize - b * blockSize)
      await fh.write(virtualBytes(b * blockSize, length, writes), 0, length, next + bitmapSize)
      next += bitmapSize + blockSize
    }
    await fh.write(bat, 0, batBytes, 1536)
    await fh.write(footer, 0, 512, next)
  } finally {
    await fh.close()
  }
  return footer
}
