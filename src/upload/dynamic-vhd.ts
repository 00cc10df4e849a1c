/**
 * Dynamic VHD (disk type 3) → the equivalent fixed disk, without a temporary copy.
 * Layout: footer copy @0, 1024-byte dynamic header (`cxsparse`) @footer.dataOffset, the block
 * allocation table (BAT), blocks (a sector bitmap padded to 512 B, then the block data), footer.
 * An unallocated BAT entry (0xFFFFFFFF) reads as zeros, so it is never read nor sent.
 * The sector bitmap only matters for differencing disks, so it is skipped (as azure-vhd-utils does).
 */
import type { ImageExtent } from './image-extent.js'
import { SECTOR_SIZE, vhdChecksum } from './vhd-footer.js'

export const DYNAMIC_HEADER_SIZE = 1024
export const DYNAMIC_HEADER_COOKIE = 'cxsparse'
export const UNALLOCATED_BLOCK = 0xffffffff

export interface DynamicVhdHeader {
  cookie: string
  /** Absolute file offset of the BAT. */
  tableOffset: number
  headerVersion: number
  maxTableEntries: number
  blockSize: number
  checksum: number
  checksumValid: boolean
}

export function parseDynamicVhdHeader(bytes: Uint8Array): DynamicVhdHeader {
  if (bytes.length < DYNAMIC_HEADER_SIZE)
    throw new Error(`dynamic VHD header needs ${DYNAMIC_HEADER_SIZE} bytes`)
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, DYNAMIC_HEADER_SIZE)
  const checksum = buf.readUInt32BE(36)
  return {
    cookie: buf.toString('latin1', 0, 8),
    tableOffset: Number(buf.readBigUInt64BE(16)),
    headerVersion: buf.readUInt32BE(24),
    maxTableEntries: buf.readUInt32BE(28),
    blockSize: buf.readUInt32BE(32),
    checksum,
    checksumValid: vhdChecksum(buf, 36) === checksum
  }
}

/** Bytes of the per-block sector bitmap, which the spec pads to a whole sector. */
export function sectorBitmapSize(blockSize: number): number {
  const bitmapBytes = Math.ceil(blockSize / SECTOR_SIZE / 8)
  return Math.ceil(bitmapBytes / SECTOR_SIZE) * SECTOR_SIZE
}

export interface BlockLayout {
  blockSize: number
  virtualSize: number
  /** The file's length; block data is clipped before the trailing footer. */
  fileSize: number
  /** First byte after the metadata (header and BAT); a block starting before it is corrupt. */
  dataStart: number
}

/**
 * Maps the BAT to the extents that hold data, in virtual order. Neighbours contiguous both in the
 * file and on the disk are merged (only possible when a writer packs blocks without bitmaps between).
 * Throws a plain Error describing the first corrupt entry; the caller adds the file path.
 */
export function dynamicVhdExtents(bat: Uint8Array, layout: BlockLayout): ImageExtent[] {
  const { blockSize, virtualSize, fileSize, dataStart } = layout
  const blocks = Math.ceil(virtualSize / blockSize)
  if (bat.length < blocks * 4)
    throw new Error(`the BAT has ${bat.length / 4} entries but the disk needs ${blocks}`)
  const view = new DataView(bat.buffer, bat.byteOffset, bat.byteLength)
  const bitmap = sectorBitmapSize(blockSize)
  const dataEnd = fileSize - SECTOR_SIZE // the trailing footer
  const extents: ImageExtent[] = []
  for (let i = 0; i < blocks; i++) {
    const entry = view.getUint32(i * 4)
    if (entry === UNALLOCATED_BLOCK) continue
    const blockStart = entry * SECTOR_SIZE
    if (blockStart < dataStart || blockStart + bitmap > dataEnd) {
      throw new Error(
        `BAT entry ${i} points to byte ${blockStart}, outside the data area ${dataStart}..${dataEnd}`
      )
    }
    const virtualOffset = i * blockSize
    const fileOffset = blockStart + bitmap
    // A short last block reads as zeros past the end of the data (vhd-utils tolerates it too).
    const length = Math.min(blockSize, virtualSize - virtualOffset, dataEnd - fileOffset)
    if (length <= 0) continue
    const last = extents[extents.length - 1]
    if (
      last &&
      last.virtualOffset + last.length === virtualOffset &&
      last.fileOffset + last.length === fileOffset
    ) {
      last.length += length
    } else {
      extents.push({ virtualOffset, fileOffset, length })
    }
  }
  return extents
}
