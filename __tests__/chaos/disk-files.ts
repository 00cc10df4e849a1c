/**
 * Small disk image files for upload runs (raw, fixed VHD, dynamic VHD), written from the VHD
 * specification (Microsoft "Virtual Hard Disk Image Format Specification" v1.0: hard disk footer,
 * dynamic disk header, block allocation table), not from src/, so the harness checks the action
 * against the format rather than against itself. Content is seeded, so a run's bytes replay too.
 */
import { writeFile } from 'node:fs/promises'
import { rng } from './prng.js'

const MiB = 1024 * 1024
/** Azure's minimum upload is 20 MiB of data (README "Upload formats"). */
export const VIRTUAL_SIZE = 24 * MiB
const BLOCK = 2 * MiB
const VHD_EPOCH = Date.UTC(2000, 0, 1) / 1000

/** The virtual disk: zeros with a few seeded, sector-aligned extents of seeded bytes. */
export function virtualDisk(seed: number): Buffer {
  const r = rng(seed ^ 0x5eed)
  const disk = Buffer.alloc(VIRTUAL_SIZE)
  const extents = r.int(2, 5)
  for (let i = 0; i < extents; i++) {
    const offset = r.int(0, VIRTUAL_SIZE / 512 - 2048) * 512
    const length = r.int(1, 1024) * 512
    for (let at = offset; at < offset + length; at++) disk[at] = 1 + Math.floor(r.next() * 255)
  }
  // Always something in the last MiB too (the file's tail is part of the resume fingerprint).
  disk.fill(0xa5, VIRTUAL_SIZE - 4096)
  return disk
}

/** CHS geometry, the specification's algorithm (appendix "CHS Calculation"). */
function geometry(size: number): { c: number; h: number; s: number } {
  const sectors = Math.min(size / 512, 65535 * 16 * 255)
  let s: number
  let h: number
  let cth: number
  if (sectors >= 65535 * 16 * 63) {
    s = 255
    h = 16
    cth = sectors / s
  } else {
    s = 17
    cth = Math.floor(sectors / s)
    h = Math.max(4, Math.floor((cth + 1023) / 1024))
    if (cth >= h * 1024 || h > 16) {
      s = 31
      h = 16
      cth = Math.floor(sectors / s)
    }
    if (cth >= h * 1024) {
      s = 63
      h = 16
      cth = Math.floor(sectors / s)
    }
  }
  return { c: Math.floor(cth / h), h, s }
}

function checksum(buf: Buffer, skipAt: number): number {
  let sum = 0
  for (let i = 0; i < buf.length; i++) if (i < skipAt || i >= skipAt + 4) sum += buf[i]
  return ~sum >>> 0
}

export function vhdFooter(size: number, type: 'fixed' | 'dynamic', seed: number): Buffer {
  const f = Buffer.alloc(512)
  f.write('conectix', 0, 'ascii')
  f.writeUInt32BE(2, 8)
  f.writeUInt32BE(0x00010000, 12)
  f.writeBigUInt64BE(type === 'fixed' ? 0xffffffffffffffffn : 512n, 16)
  f.writeUInt32BE(Math.floor(Date.UTC(2026, 0, 1) / 1000 - VHD_EPOCH), 24)
  f.write('chas', 28, 'ascii')
  f.writeUInt32BE(0x00010000, 32)
  f.write('Wi2k', 36, 'ascii')
  f.writeBigUInt64BE(BigInt(size), 40)
  f.writeBigUInt64BE(BigInt(size), 48)
  const g = geometry(size)
  f.writeUInt16BE(g.c, 56)
  f.writeUInt8(g.h, 58)
  f.writeUInt8(g.s, 59)
  f.writeUInt32BE(type === 'fixed' ? 2 : 3, 60)
  const id = rng(seed ^ 0x1d)
  for (let i = 0; i < 16; i++) f[68 + i] = id.int(0, 255)
  f.writeUInt32BE(checksum(f, 64), 64)
  return f
}

function dynamicVhd(disk: Buffer, seed: number): Buffer {
  const footer = vhdFooter(disk.length, 'dynamic', seed)
  const entries = disk.length / BLOCK
  const header = Buffer.alloc(1024)
  header.write('cxsparse', 0, 'ascii')
  header.writeBigUInt64BE(0xffffffffffffffffn, 8)
  header.writeBigUInt64BE(1536n, 16)
  header.writeUInt32BE(0x00010000, 24)
  header.writeUInt32BE(entries, 28)
  header.writeUInt32BE(BLOCK, 32)
  header.writeUInt32BE(checksum(header, 36), 36)
  const batBytes = Math.ceil((entries * 4) / 512) * 512
  const bat = Buffer.alloc(batBytes, 0xff)
  const parts: Buffer[] = [footer, header, bat]
  let sector = (512 + 1024 + batBytes) / 512
  const bitmap = Buffer.alloc(512, 0xff)
  for (let b = 0; b < entries; b++) {
    const block = disk.subarray(b * BLOCK, (b + 1) * BLOCK)
    if (block.every(x => x === 0)) continue
    bat.writeUInt32BE(sector, b * 4)
    parts.push(bitmap, block)
    sector += (512 + BLOCK) / 512
  }
  parts.push(footer)
  return Buffer.concat(parts)
}

/** Writes the file; returns what a fixed-VHD blob of it must hold before its footer. */
export async function writeDiskFile(
  path: string,
  format: 'raw' | 'fixed' | 'dynamic',
  seed: number
): Promise<{ disk: Buffer; fixedFooter?: Buffer }> {
  const disk = virtualDisk(seed)
  if (format === 'raw') {
    await writeFile(path, disk)
    return { disk }
  }
  if (format === 'fixed') {
    const footer = vhdFooter(disk.length, 'fixed', seed)
    await writeFile(path, Buffer.concat([disk, footer]))
    return { disk, fixedFooter: footer }
  }
  await writeFile(path, dynamicVhd(disk, seed))
  return { disk }
}
