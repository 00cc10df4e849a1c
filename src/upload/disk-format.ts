/**
 * Recognises a disk image from its content (never from its name) and describes how to upload it
 * as the fixed VHD Azure requires: the extents of the file that hold the virtual disk's bytes, the
 * footer to write last, and the sizes. Every refusal happens here, before any network call.
 */
import { constants } from 'node:fs'
import { open, stat, type FileHandle } from 'node:fs/promises'
import {
  dynamicVhdExtents,
  parseDynamicVhdHeader,
  DYNAMIC_HEADER_COOKIE,
  DYNAMIC_HEADER_SIZE
} from './dynamic-vhd.js'
import { readSourceIdentity, type SourceIdentity } from './resume.js'
import {
  buildFixedVhdFooter,
  parseVhdFooter,
  toFixedVhdFooter,
  DISK_TYPE_DIFFERENCING,
  DISK_TYPE_DYNAMIC,
  DISK_TYPE_FIXED,
  GiB,
  MiB,
  TiB,
  VHD_COOKIE,
  VHD_FOOTER_SIZE,
  type VhdFooter
} from './vhd-footer.js'
import type { ImageExtent } from './image-extent.js'
import { errorMessage } from '../error-message.js'

export type DiskFormat = 'fixed-vhd' | 'dynamic-vhd' | 'raw'
export type DiskRole = 'os' | 'data'

export type { ImageExtent }

export interface DiskImage {
  path: string
  format: DiskFormat
  role: DiskRole
  fileSize: number
  /** Size of the disk as the VM sees it; a multiple of 1 MiB. */
  virtualSize: number
  /** Page blob / managed disk size: virtual size plus the 512-byte footer. */
  uploadSize: number
  /** The fixed-VHD footer, written at `virtualSize` after every data page. */
  footer: Buffer
  /** UUID kept in the footer (the source's for VHDs, a new one for raw images). */
  uniqueId: string
  /** Where the data lives, sorted by virtual offset; everything else reads as zeros. */
  extents: ImageExtent[]
  /** Sum of extent lengths: the bytes the reader will read. */
  bytesToRead: number
  identity: SourceIdentity
}

/** Azure's limits, from the Disks REST spec (`uploadSizeBytes`) and the managed-disk docs. */
export const MIN_UPLOAD_SIZE = 20 * MiB + VHD_FOOTER_SIZE
export const MAX_UPLOAD_SIZE = 32 * TiB + VHD_FOOTER_SIZE
export const MAX_OS_DISK_SIZE = 4095 * GiB
export const MAX_DATA_DISK_SIZE = 32767 * GiB

export class InvalidDiskImageError extends Error {
  constructor(
    readonly path: string,
    message: string,
    readonly detectedFormat?: string
  ) {
    super(`${path}: ${message}`)
    this.name = 'InvalidDiskImageError'
  }
}

/** Formats we recognise but Azure cannot take; `qemuFormat` is qemu-img's `-f` name. */
interface ForeignFormat {
  name: string
  qemuFormat?: string
  hint?: string
}

/** Identifies formats by their magic bytes at offset 0. Pure. */
export function detectForeignFormat(head: Buffer): ForeignFormat | undefined {
  const starts = (magic: string | number[]): boolean => {
    const bytes = typeof magic === 'string' ? Buffer.from(magic, 'latin1') : Buffer.from(magic)
    return head.length >= bytes.length && head.subarray(0, bytes.length).equals(bytes)
  }
  if (starts('vhdxfile')) return { name: 'VHDX', qemuFormat: 'vhdx' }
  if (starts([0x51, 0x46, 0x49, 0xfb])) return { name: 'qcow2', qemuFormat: 'qcow2' }
  if (starts('KDMV')) return { name: 'VMDK (sparse extent)', qemuFormat: 'vmdk' }
  if (starts('# Disk DescriptorFile')) return { name: 'VMDK (descriptor)', qemuFormat: 'vmdk' }
  if (head.length >= 0x44 && head.readUInt32LE(0x40) === 0xbeda107f)
    return { name: 'VDI', qemuFormat: 'vdi' }
  const decompress = (tool: string): string =>
    `decompress it first (${tool}) and pass the uncompressed image`
  if (starts([0x1f, 0x8b])) return { name: 'gzip-compressed data', hint: decompress('gunzip -k') }
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))
    return { name: 'xz-compressed data', hint: decompress('xz -dk') }
  if (starts([0x28, 0xb5, 0x2f, 0xfd]))
    return { name: 'zstd-compressed data', hint: decompress('zstd -d') }
  if (starts('BZh')) return { name: 'bzip2-compressed data', hint: decompress('bunzip2 -k') }
  return undefined
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

export function qemuConvertCommand(qemuFormat: string, path: string): string {
  return `qemu-img convert -f ${qemuFormat} -O vpc -o subformat=fixed,force_size ${shellQuote(path)} out.vhd`
}

function roundUpMiB(n: number): number {
  return Math.ceil(n / MiB) * MiB
}

function formatSize(bytes: number): string {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`
  return `${bytes} bytes`
}

/** Size limits as plain checks, so they can be tested without files. Returns an error message. */
export function checkDiskSize(virtualSize: number, role: DiskRole): string | undefined {
  const uploadSize = virtualSize + VHD_FOOTER_SIZE
  if (uploadSize < MIN_UPLOAD_SIZE) {
    return `the virtual size ${formatSize(virtualSize)} is below Azure's minimum of 20 MiB for an uploaded disk`
  }
  if (uploadSize > MAX_UPLOAD_SIZE) {
    return `the virtual size ${formatSize(virtualSize)} is above Azure's maximum of 32 TiB for an uploaded disk`
  }
  const max = role === 'os' ? MAX_OS_DISK_SIZE : MAX_DATA_DISK_SIZE
  if (virtualSize > max) {
    return `the virtual size ${formatSize(virtualSize)} is above the ${formatSize(max)} Azure allows for ${role === 'os' ? 'an OS' : 'a data'} disk`
  }
  return undefined
}

async function readExactly(handle: FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buf, done, length - done, position + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buf.subarray(0, done)
}

interface Inspected {
  format: DiskFormat
  virtualSize: number
  footer: Buffer
  uniqueId: string
  extents: ImageExtent[]
}

/**
 * Inspects a disk image: detects the format from its content, validates it against Azure's rules
 * and returns what the uploader needs. Throws InvalidDiskImageError (message starting with the
 * path) for anything Azure would reject, with the command that fixes it where there is one.
 */
export async function inspectDiskImage(path: string, role: DiskRole): Promise<DiskImage> {
  // Look before opening: open() of a FIFO blocks until a writer appears, so a FIFO (or a device)
  // given as the image would hang the step (security review, finding 11). O_NONBLOCK covers a
  // path swapped for a FIFO between the two calls; it changes nothing for regular files.
  let kind: string | undefined
  try {
    kind = fileKind(await stat(path))
  } catch (e) {
    throw new InvalidDiskImageError(path, `cannot read the disk image: ${errorMessage(e)}`)
  }
  if (kind)
    throw new InvalidDiskImageError(path, `is ${kind}, not a regular file holding a disk image`)
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (e) {
    throw new InvalidDiskImageError(path, `cannot open the disk image: ${errorMessage(e)}`)
  }
  let inspected: Inspected
  let fileSize: number
  try {
    const opened = await handle.stat()
    const openedKind = fileKind(opened)
    if (openedKind)
      throw new InvalidDiskImageError(
        path,
        `is ${openedKind}, not a regular file holding a disk image`
      )
    fileSize = opened.size
    if (fileSize === 0) throw new InvalidDiskImageError(path, 'the file is empty')
    const head = await readExactly(handle, Math.min(4096, fileSize), 0)
    const tail =
      fileSize >= VHD_FOOTER_SIZE
        ? await readExactly(handle, VHD_FOOTER_SIZE, fileSize - VHD_FOOTER_SIZE)
        : Buffer.alloc(0)
    inspected = await classify(path, handle, fileSize, head, tail)
  } finally {
    await handle.close()
  }
  const sizeProblem = checkDiskSize(inspected.virtualSize, role)
  if (sizeProblem) throw new InvalidDiskImageError(path, sizeProblem, inspected.format)
  const identity = await readSourceIdentity(path)
  return {
    path,
    role,
    fileSize,
    format: inspected.format,
    virtualSize: inspected.virtualSize,
    uploadSize: inspected.virtualSize + VHD_FOOTER_SIZE,
    footer: inspected.footer,
    uniqueId: inspected.uniqueId,
    extents: inspected.extents,
    bytesToRead: inspected.extents.reduce((sum, e) => sum + e.length, 0),
    identity
  }
}

/** What a non-regular file is, in words for an error message; undefined for a regular file. */
function fileKind(st: {
  isFile(): boolean
  isDirectory(): boolean
  isFIFO(): boolean
  isSocket(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
}): string | undefined {
  if (st.isFile()) return undefined
  if (st.isDirectory()) return 'a directory'
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isSocket()) return 'a socket'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  return 'not a regular file'
}

function isVhdCookie(bytes: Buffer): boolean {
  return bytes.length >= 8 && bytes.toString('latin1', 0, 8) === VHD_COOKIE
}

function misalignedVirtualSize(
  path: string,
  kind: string,
  virtualSize: number,
  format: string
): InvalidDiskImageError {
  const rounded = roundUpMiB(virtualSize)
  return new InvalidDiskImageError(
    path,
    `${kind} has a virtual size of ${virtualSize} bytes, which is not a whole number of MiB as Azure requires. ` +
      `Round it up to ${rounded} bytes (${rounded / MiB} MiB): convert it to a raw image and grow that, e.g. ` +
      `\`qemu-img convert -f vpc -O raw ${shellQuote(path)} disk.raw && truncate -s ${rounded} disk.raw\`, then pass disk.raw`,
    format
  )
}

/** Refuses a format Azure does not take (detectForeignFormat), with the command that converts. */
function refuseForeignFormat(path: string, head: Buffer): void {
  const foreign = detectForeignFormat(head)
  if (foreign) {
    const fix = foreign.qemuFormat
      ? `convert it to a fixed VHD first: \`${qemuConvertCommand(foreign.qemuFormat, path)}\``
      : (foreign.hint ?? '')
    throw new InvalidDiskImageError(
      path,
      `is ${foreign.name}, which Azure does not accept; ${fix}`,
      foreign.name
    )
  }
}

/** A VHD footer at the end or start: fixed, dynamic, or refused (differencing, damaged). */
async function inspectVhd(
  path: string,
  handle: FileHandle,
  fileSize: number,
  head: Buffer,
  tail: Buffer
): Promise<Inspected> {
  const tailFooter = isVhdCookie(tail) ? parseVhdFooter(tail) : undefined
  const headFooter = isVhdCookie(head) ? parseVhdFooter(head) : undefined
  const diskType = tailFooter?.diskType ?? headFooter?.diskType
  if (diskType === DISK_TYPE_DIFFERENCING) {
    throw new InvalidDiskImageError(
      path,
      `is a differencing VHD, which needs its parent disk; merge it into a standalone fixed VHD first: \`${qemuConvertCommand('vpc', path)}\` (run it next to the parent)`,
      'differencing VHD'
    )
  }
  if (diskType === DISK_TYPE_FIXED && tailFooter)
    return inspectFixedVhd(path, fileSize, tail, tailFooter)
  if (diskType === DISK_TYPE_DYNAMIC) {
    // The spec keeps a mirror at offset 0; prefer whichever copy has a valid checksum.
    const footerBytes = tailFooter?.checksumValid
      ? tail
      : headFooter?.checksumValid
        ? head.subarray(0, VHD_FOOTER_SIZE)
        : undefined
    if (!footerBytes) {
      throw new InvalidDiskImageError(
        path,
        'is a dynamic VHD whose footer checksum is wrong in both copies; the file is corrupt',
        'dynamic VHD'
      )
    }
    return inspectDynamicVhd(path, handle, fileSize, footerBytes)
  }
  if (tailFooter) {
    throw new InvalidDiskImageError(
      path,
      `is a VHD of unknown disk type ${tailFooter.diskType} (expected 2 fixed or 3 dynamic)`,
      'VHD'
    )
  }
  // Only a footer copy at the start with a fixed type: a truncated or damaged file.
  throw new InvalidDiskImageError(
    path,
    'starts with a VHD footer but has none at its end; the file looks truncated',
    'VHD'
  )
}

/** Anything else is a raw image: the bytes are the disk. */
function inspectRaw(path: string, fileSize: number): Inspected {
  if (fileSize % MiB !== 0) {
    const rounded = roundUpMiB(fileSize)
    throw new InvalidDiskImageError(
      path,
      `is a raw disk image (no VHD footer) of ${fileSize} bytes, which is not a whole number of MiB as Azure requires. ` +
        `Round it up to ${rounded} bytes (${rounded / MiB} MiB): \`truncate -s ${rounded} ${shellQuote(path)}\` or \`qemu-img resize -f raw ${shellQuote(path)} ${rounded}\``,
      'raw'
    )
  }
  const footer = buildFixedVhdFooter({ virtualSize: fileSize, creatorApplication: 'win ' })
  return {
    format: 'raw',
    virtualSize: fileSize,
    footer,
    uniqueId: parseVhdFooter(footer).uniqueId,
    extents: [{ virtualOffset: 0, fileOffset: 0, length: fileSize }]
  }
}

async function classify(
  path: string,
  handle: FileHandle,
  fileSize: number,
  head: Buffer,
  tail: Buffer
): Promise<Inspected> {
  refuseForeignFormat(path, head)
  // A footer at the end: fixed VHD, or dynamic/differencing (which also keep a copy at offset 0).
  if (isVhdCookie(tail) || isVhdCookie(head)) return inspectVhd(path, handle, fileSize, head, tail)
  return inspectRaw(path, fileSize)
}

function inspectFixedVhd(
  path: string,
  fileSize: number,
  footerBytes: Buffer,
  footer: VhdFooter
): Inspected {
  if (!footer.checksumValid) {
    throw new InvalidDiskImageError(
      path,
      `is a fixed VHD whose footer checksum is wrong (stored 0x${footer.checksum.toString(16)}); the footer is corrupt`,
      'fixed VHD'
    )
  }
  const virtualSize = footer.currentSize
  if (virtualSize % MiB !== 0)
    throw misalignedVirtualSize(path, 'the fixed VHD', virtualSize, 'fixed VHD')
  if (fileSize !== virtualSize + VHD_FOOTER_SIZE) {
    throw new InvalidDiskImageError(
      path,
      `is a fixed VHD whose footer says ${virtualSize} bytes of data, but the file has ${fileSize} bytes ` +
        `(expected ${virtualSize + VHD_FOOTER_SIZE}); the file is truncated or has extra bytes`,
      'fixed VHD'
    )
  }
  return {
    format: 'fixed-vhd',
    virtualSize,
    footer: Buffer.from(footerBytes),
    uniqueId: footer.uniqueId,
    extents: [{ virtualOffset: 0, fileOffset: 0, length: virtualSize }]
  }
}

async function inspectDynamicVhd(
  path: string,
  handle: FileHandle,
  fileSize: number,
  footerBytes: Buffer
): Promise<Inspected> {
  const corrupt = (what: string): InvalidDiskImageError =>
    new InvalidDiskImageError(
      path,
      `is a dynamic VHD with ${what}; the file is corrupt`,
      'dynamic VHD'
    )
  const footer = parseVhdFooter(footerBytes)
  const virtualSize = footer.currentSize
  if (virtualSize % MiB !== 0)
    throw misalignedVirtualSize(path, 'the dynamic VHD', virtualSize, 'dynamic VHD')
  if (footer.dataOffset === null || footer.dataOffset + DYNAMIC_HEADER_SIZE > fileSize) {
    throw corrupt(`a header offset (${footer.dataOffset}) outside the file`)
  }
  const header = parseDynamicVhdHeader(
    await readExactly(handle, DYNAMIC_HEADER_SIZE, footer.dataOffset)
  )
  if (header.cookie !== DYNAMIC_HEADER_COOKIE)
    throw corrupt(`a header cookie "${header.cookie}" instead of "${DYNAMIC_HEADER_COOKIE}"`)
  if (!header.checksumValid) throw corrupt('a wrong header checksum')
  const { blockSize } = header
  if (blockSize < 512 || (blockSize & (blockSize - 1)) !== 0)
    throw corrupt(`a block size of ${blockSize} bytes`)
  const blocks = Math.ceil(virtualSize / blockSize)
  if (header.maxTableEntries < blocks)
    throw corrupt(`${header.maxTableEntries} BAT entries for ${blocks} blocks`)
  const batBytes = blocks * 4
  if (header.tableOffset + batBytes > fileSize)
    throw corrupt(`a BAT at ${header.tableOffset} past the end of the file`)
  const bat = await readExactly(handle, batBytes, header.tableOffset)
  const metadataEnd = Math.max(
    footer.dataOffset + DYNAMIC_HEADER_SIZE,
    header.tableOffset + header.maxTableEntries * 4
  )
  let extents: ImageExtent[]
  try {
    extents = dynamicVhdExtents(bat, {
      blockSize,
      virtualSize,
      fileSize,
      dataStart: Math.min(metadataEnd, fileSize)
    })
  } catch (e) {
    throw corrupt(errorMessage(e))
  }
  return {
    format: 'dynamic-vhd',
    virtualSize,
    footer: toFixedVhdFooter(footerBytes),
    uniqueId: footer.uniqueId,
    extents
  }
}
