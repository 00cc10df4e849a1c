import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  checkDiskSize,
  inspectDiskImage,
  InvalidDiskImageError
} from '../../../src/upload/disk-format.js'
import { parseVhdFooter, vhdChecksum, GiB } from '../../../src/upload/vhd-footer.js'
import { MiB, writeDynamicVhd, writeFixedVhd, writeRawImage } from '../../upload-it/fixtures.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'disk-format-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function fileWith(name: string, size: number, head: Buffer): Promise<string> {
  const path = join(dir, name)
  const fh = await open(path, 'w')
  await fh.truncate(size)
  await fh.write(head, 0, head.length, 0)
  await fh.close()
  return path
}

async function refusal(path: string, role: 'os' | 'data' = 'os'): Promise<InvalidDiskImageError> {
  const error = await inspectDiskImage(path, role).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(InvalidDiskImageError)
  expect((error as Error).message.startsWith(`${path}: `)).toBe(true)
  return error as InvalidDiskImageError
}

describe('inspectDiskImage: accepted formats', () => {
  it('fixed VHD: uploads the file as is', async () => {
    const path = join(dir, 'fixed.vhd')
    const footer = await writeFixedVhd(path, 64 * MiB, [{ offset: 0, length: 4096 }])
    const image = await inspectDiskImage(path, 'os')
    expect(image).toMatchObject({
      format: 'fixed-vhd',
      virtualSize: 64 * MiB,
      uploadSize: 64 * MiB + 512,
      fileSize: 64 * MiB + 512,
      bytesToRead: 64 * MiB
    })
    expect(image.extents).toEqual([{ virtualOffset: 0, fileOffset: 0, length: 64 * MiB }])
    expect(image.footer.equals(footer)).toBe(true)
    expect(image.identity.size).toBe(64 * MiB + 512)
    expect(image.identity.headSha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('dynamic VHD: only allocated blocks, fixed footer keeping the UUID', async () => {
    const path = join(dir, 'dynamic.vhd')
    const uuid = '11111111-2222-3333-4444-555555555555'
    await writeDynamicVhd(
      path,
      64 * MiB,
      [
        { offset: 5 * MiB, length: 4096 },
        { offset: 40 * MiB, length: 3 * MiB }
      ],
      { uniqueId: uuid, reverse: true }
    )
    const image = await inspectDiskImage(path, 'data')
    expect(image.format).toBe('dynamic-vhd')
    expect(image.virtualSize).toBe(64 * MiB)
    expect(image.extents.map(e => e.virtualOffset)).toEqual([4 * MiB, 40 * MiB, 42 * MiB])
    expect(image.bytesToRead).toBe(6 * MiB)
    const footer = parseVhdFooter(image.footer)
    expect(footer).toMatchObject({
      diskType: 2,
      dataOffset: null,
      checksumValid: true,
      uniqueId: uuid,
      currentSize: 64 * MiB
    })
    expect(image.uniqueId).toBe(uuid)
  })

  it('raw image: a generated footer (creator "win ", CHS, checksum, new UUID)', async () => {
    const path = join(dir, 'disk.raw')
    await writeRawImage(path, 30 * MiB, [{ offset: 0, length: 512 }])
    const image = await inspectDiskImage(path, 'os')
    expect(image).toMatchObject({
      format: 'raw',
      virtualSize: 30 * MiB,
      uploadSize: 30 * MiB + 512
    })
    const footer = parseVhdFooter(image.footer)
    expect(footer).toMatchObject({
      cookie: 'conectix',
      creatorApplication: 'win ',
      diskType: 2,
      checksumValid: true,
      currentSize: 30 * MiB,
      geometry: { cylinders: 903, heads: 4, sectorsPerTrack: 17 }
    })
    const again = await inspectDiskImage(path, 'os')
    expect(again.uniqueId).not.toBe(image.uniqueId)
  })
})

describe('inspectDiskImage: refused formats name the format and the fix', () => {
  it.each([
    [
      'disk.vhdx',
      Buffer.from('vhdxfile'),
      'VHDX',
      'qemu-img convert -f vhdx -O vpc -o subformat=fixed,force_size'
    ],
    [
      'disk.qcow2',
      Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]),
      'qcow2',
      'qemu-img convert -f qcow2 -O vpc -o subformat=fixed,force_size'
    ],
    [
      'disk.vmdk',
      Buffer.from('KDMV'),
      'VMDK',
      'qemu-img convert -f vmdk -O vpc -o subformat=fixed,force_size'
    ],
    ['desc.vmdk', Buffer.from('# Disk DescriptorFile\nversion=1\n'), 'VMDK', '-f vmdk'],
    ['disk.vhd.gz', Buffer.from([0x1f, 0x8b, 8, 0]), 'gzip', 'gunzip']
  ])('%s', async (name, head, format, fix) => {
    const path = await fileWith(name, 32 * MiB, head)
    const error = await refusal(path)
    expect(error.message).toContain(format)
    expect(error.message).toContain(fix)
    expect(error.message).toContain(path)
  })

  it('VDI', async () => {
    const head = Buffer.alloc(0x48)
    head.write('<<< Oracle VM VirtualBox Disk Image >>>\n')
    head.writeUInt32LE(0xbeda107f, 0x40)
    const error = await refusal(await fileWith('disk.vdi', 32 * MiB, head))
    expect(error.message).toContain('-f vdi')
  })

  it('differencing VHD', async () => {
    const path = join(dir, 'diff.vhd')
    await writeDynamicVhd(path, 64 * MiB, [], { diskType: 4 })
    const error = await refusal(path)
    expect(error.message).toContain('differencing VHD')
    expect(error.message).toContain('qemu-img convert -f vpc -O vpc -o subformat=fixed,force_size')
  })

  it('raw image whose size is not a whole MiB: names the size to round up to', async () => {
    const path = join(dir, 'odd.raw')
    await writeRawImage(path, 64 * MiB + 4096, [])
    const error = await refusal(path)
    expect(error.message).toContain(`${65 * MiB} bytes (65 MiB)`)
    expect(error.message).toContain(`truncate -s ${65 * MiB}`)
    expect(error.message).toContain('qemu-img resize')
  })
})

describe('inspectDiskImage: broken VHDs', () => {
  it('fixed VHD with a bad checksum', async () => {
    const path = join(dir, 'badsum.vhd')
    await writeFixedVhd(path, 32 * MiB, [])
    const fh = await open(path, 'r+')
    await fh.write(Buffer.from([0x42]), 0, 1, 32 * MiB + 100)
    await fh.close()
    expect((await refusal(path)).message).toContain('checksum')
  })

  it('fixed VHD whose file size disagrees with the footer', async () => {
    const path = join(dir, 'short.vhd')
    const footer = await writeFixedVhd(path, 32 * MiB, [])
    const fh = await open(path, 'r+')
    await fh.truncate(31 * MiB)
    await fh.write(footer, 0, 512, 31 * MiB - 512)
    await fh.close()
    const error = await refusal(path)
    expect(error.message).toContain(`expected ${32 * MiB + 512}`)
  })

  it('fixed VHD whose virtual size is not a whole MiB (qemu without force_size)', async () => {
    const path = join(dir, 'chs.vhd')
    const size = 1_073_995_776
    await writeFixedVhd(path, size, [])
    const error = await refusal(path)
    expect(error.message).toContain(`${size} bytes`)
    expect(error.message).toContain(`truncate -s ${1025 * MiB}`)
  })

  it('dynamic VHD with a corrupt header', async () => {
    const path = join(dir, 'badheader.vhd')
    await writeDynamicVhd(path, 32 * MiB, [{ offset: 0, length: 512 }])
    const fh = await open(path, 'r+')
    await fh.write(Buffer.from('xxsparse'), 0, 8, 512)
    await fh.close()
    expect((await refusal(path)).message).toMatch(/dynamic VHD.*cookie/)
  })

  it('dynamic VHD with a BAT entry outside the file', async () => {
    const path = join(dir, 'badbat.vhd')
    await writeDynamicVhd(path, 32 * MiB, [{ offset: 0, length: 512 }])
    const fh = await open(path, 'r+')
    const entry = Buffer.alloc(4)
    entry.writeUInt32BE(0x00ffffff)
    await fh.write(entry, 0, 4, 1536 + 4)
    await fh.close()
    expect((await refusal(path)).message).toMatch(/BAT entry 1/)
  })

  it('a file with only a leading footer copy (truncated)', async () => {
    const footer = Buffer.alloc(512)
    footer.write('conectix')
    footer.writeUInt32BE(2, 60)
    footer.writeUInt32BE(vhdChecksum(footer), 64)
    expect((await refusal(await fileWith('trunc.vhd', 32 * MiB, footer))).message).toContain(
      'truncated'
    )
  })

  it('a missing file and an empty file', async () => {
    await refusal(join(dir, 'nope.vhd'))
    const empty = join(dir, 'empty.raw')
    await writeFile(empty, '')
    expect((await refusal(empty)).message).toContain('empty')
  })
})

describe('size limits', () => {
  it('refuses images below 20 MiB', async () => {
    const path = join(dir, 'tiny.raw')
    await writeRawImage(path, 19 * MiB, [])
    expect((await refusal(path)).message).toContain('minimum of 20 MiB')
  })

  it('allows exactly 20 MiB', () => {
    expect(checkDiskSize(20 * MiB, 'os')).toBeUndefined()
  })

  it('limits OS disks to 4095 GiB and data disks to 32767 GiB', async () => {
    const path = join(dir, 'big.raw')
    await writeRawImage(path, 4096 * GiB, []) // sparse: no space used
    expect((await refusal(path, 'os')).message).toContain('4095 GiB')
    await expect(inspectDiskImage(path, 'data')).resolves.toMatchObject({ virtualSize: 4096 * GiB })
    expect(checkDiskSize(32767 * GiB, 'data')).toBeUndefined()
    expect(checkDiskSize(32768 * GiB, 'data')).toContain('32767 GiB')
    expect(checkDiskSize(32 * 1024 * GiB + MiB, 'data')).toContain('32 TiB')
  })
})
