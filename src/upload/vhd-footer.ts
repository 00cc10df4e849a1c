/**
 * The 512-byte VHD footer (Microsoft "Virtual Hard Disk Image Format Specification").
 * Pure functions over Buffers: parse, checksum, CHS geometry and building the fixed-disk footer
 * that Azure requires at the end of every page blob / managed disk it accepts as a disk.
 * All fields are big-endian.
 */
import { randomUUID } from 'node:crypto'

export const VHD_FOOTER_SIZE = 512
export const SECTOR_SIZE = 512
export const MiB = 1024 * 1024
export const GiB = 1024 * MiB
export const TiB = 1024 * GiB

export const VHD_COOKIE = 'conectix'
export const DISK_TYPE_FIXED = 2
export const DISK_TYPE_DYNAMIC = 3
export const DISK_TYPE_DIFFERENCING = 4

/** The "reserved" feature bit, which the spec says must always be set. */
const FEATURES_RESERVED = 0x00000002
const FILE_FORMAT_VERSION = 0x00010000
/** Seconds between the Unix epoch and the VHD epoch, 2000-01-01T00:00:00Z. */
const VHD_EPOCH_SECONDS = 946684800
const CHECKSUM_OFFSET = 64
/** Largest geometry the 16-bit/8-bit CHS fields can hold (≈127.5 GiB). */
export const MAX_CHS_SECTORS = 65535 * 16 * 255

export interface DiskGeometry {
  cylinders: number
  heads: number
  sectorsPerTrack: number
}

export interface VhdFooter {
  cookie: string
  features: number
  fileFormatVersion: number
  /** Absolute offset of the dynamic-disk header; null for the all-ones value of a fixed disk. */
  dataOffset: number | null
  timestamp: Date
  creatorApplication: string
  creatorVersion: number
  creatorHostOs: string
  originalSize: number
  currentSize: number
  geometry: DiskGeometry
  diskType: number
  checksum: number
  /** True when the stored checksum matches the bytes. */
  checksumValid: boolean
  uniqueId: string
  savedState: number
}

/**
 * One's complement of the byte sum of `bytes`, skipping the 4 checksum bytes at `checksumOffset`.
 * The footer (offset 64) and the dynamic-disk header (offset 36) use the same rule.
 */
export function vhdChecksum(bytes: Uint8Array, checksumOffset = CHECKSUM_OFFSET): number {
  let sum = 0
  for (let i = 0; i < bytes.length; i++) {
    if (i >= checksumOffset && i < checksumOffset + 4) continue
    sum = (sum + bytes[i]) >>> 0
  }
  return ~sum >>> 0
}

/**
 * CHS geometry per the VHD specification's appendix (integer division throughout). Hyper-V and
 * azure-vhd-utils compute it this way; the product may be smaller than the size, which is fine
 * because Azure (and qemu for creator `win `) use `currentSize`, not CHS.
 */
export function chsGeometry(virtualSize: number): DiskGeometry {
  const totalSectors = Math.min(Math.floor(virtualSize / SECTOR_SIZE), MAX_CHS_SECTORS)
  let sectorsPerTrack: number
  let heads: number
  let cylinderTimesHeads: number
  if (totalSectors >= 65535 * 16 * 63) {
    sectorsPerTrack = 255
    heads = 16
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
  } else {
    sectorsPerTrack = 17
    cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    heads = Math.max(4, Math.floor((cylinderTimesHeads + 1023) / 1024))
    if (cylinderTimesHeads >= heads * 1024 || heads > 16) {
      sectorsPerTrack = 31
      heads = 16
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    }
    if (cylinderTimesHeads >= heads * 1024) {
      sectorsPerTrack = 63
      heads = 16
      cylinderTimesHeads = Math.floor(totalSectors / sectorsPerTrack)
    }
  }
  return { cylinders: Math.floor(cylinderTimesHeads / heads), heads, sectorsPerTrack }
}

export function uuidToBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '')
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`)
  return Buffer.from(hex, 'hex')
}

export function bytesToUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/** Reads an unsigned 64-bit big-endian value; null for all-ones (the "none" marker). */
function readOffset64(buf: Buffer, at: number): number | null {
  const v = buf.readBigUInt64BE(at)
  if (v === 0xffffffffffffffffn) return null
  return Number(v)
}

/** Parses a footer (or the footer copy at the start of a dynamic disk). Does not validate. */
export function parseVhdFooter(bytes: Uint8Array): VhdFooter {
  if (bytes.length < VHD_FOOTER_SIZE)
    throw new Error(`VHD footer needs ${VHD_FOOTER_SIZE} bytes, got ${bytes.length}`)
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, VHD_FOOTER_SIZE)
  const checksum = buf.readUInt32BE(CHECKSUM_OFFSET)
  return {
    cookie: buf.toString('latin1', 0, 8),
    features: buf.readUInt32BE(8),
    fileFormatVersion: buf.readUInt32BE(12),
    dataOffset: readOffset64(buf, 16),
    timestamp: new Date((VHD_EPOCH_SECONDS + buf.readUInt32BE(24)) * 1000),
    creatorApplication: buf.toString('latin1', 28, 32),
    creatorVersion: buf.readUInt32BE(32),
    creatorHostOs: buf.toString('latin1', 36, 40),
    originalSize: Number(buf.readBigUInt64BE(40)),
    currentSize: Number(buf.readBigUInt64BE(48)),
    geometry: {
      cylinders: buf.readUInt16BE(56),
      heads: buf.readUInt8(58),
      sectorsPerTrack: buf.readUInt8(59)
    },
    diskType: buf.readUInt32BE(60),
    checksum,
    checksumValid: vhdChecksum(buf) === checksum,
    uniqueId: bytesToUuid(buf.subarray(68, 84)),
    savedState: buf.readUInt8(84)
  }
}

export interface FixedFooterOptions {
  virtualSize: number
  /** Defaults to a new random UUID. */
  uniqueId?: string
  timestamp?: Date
  /** `win ` makes qemu trust `currentSize` instead of CHS (block/vpc.c). */
  creatorApplication?: string
  creatorVersion?: number
  creatorHostOs?: string
}

/** Builds the footer of a fixed VHD (disk type 2, data offset all-ones). */
export function buildFixedVhdFooter(options: FixedFooterOptions): Buffer {
  const { virtualSize } = options
  const buf = Buffer.alloc(VHD_FOOTER_SIZE)
  buf.write(VHD_COOKIE, 0, 'latin1')
  buf.writeUInt32BE(FEATURES_RESERVED, 8)
  buf.writeUInt32BE(FILE_FORMAT_VERSION, 12)
  buf.writeBigUInt64BE(0xffffffffffffffffn, 16)
  const time = options.timestamp ?? new Date()
  buf.writeUInt32BE(Math.max(0, Math.floor(time.getTime() / 1000) - VHD_EPOCH_SECONDS) >>> 0, 24)
  buf.write((options.creatorApplication ?? 'win ').padEnd(4, ' ').slice(0, 4), 28, 'latin1')
  buf.writeUInt32BE(options.creatorVersion ?? 0x000a0000, 32)
  buf.write((options.creatorHostOs ?? 'Wi2k').padEnd(4, ' ').slice(0, 4), 36, 'latin1')
  buf.writeBigUInt64BE(BigInt(virtualSize), 40)
  buf.writeBigUInt64BE(BigInt(virtualSize), 48)
  const g = chsGeometry(virtualSize)
  buf.writeUInt16BE(g.cylinders, 56)
  buf.writeUInt8(g.heads, 58)
  buf.writeUInt8(g.sectorsPerTrack, 59)
  buf.writeUInt32BE(DISK_TYPE_FIXED, 60)
  uuidToBytes(options.uniqueId ?? randomUUID()).copy(buf, 68)
  buf.writeUInt32BE(vhdChecksum(buf), CHECKSUM_OFFSET)
  return buf
}

/**
 * Turns a dynamic disk's footer into the equivalent fixed-disk footer: same sizes, geometry,
 * creator and UUID, disk type 2, data offset all-ones, new checksum.
 */
export function toFixedVhdFooter(dynamicFooter: Uint8Array): Buffer {
  const buf = Buffer.from(dynamicFooter.subarray(0, VHD_FOOTER_SIZE))
  buf.writeBigUInt64BE(0xffffffffffffffffn, 16)
  buf.writeUInt32BE(DISK_TYPE_FIXED, 60)
  buf.writeUInt32BE(vhdChecksum(buf), CHECKSUM_OFFSET)
  return buf
}
