/**
 * Found by the chaos campaign (`npm run chaos`, issue 12): a connection dropped on one of the
 * upload's own blob requests other than Put Page (Get Blob Properties before the upload, Put Blob
 * creating the page blob) ended the run, because the page-blob client has the SDK's retries off
 * (the uploader retries page writes itself) and nothing retried those calls. Azure Storage, like
 * any HTTP service, may close a connection at any time; one dropped request must not fail a run.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import type http from 'node:http'
import { errorLines } from '../support/action-runner.js'
import { STORAGE_ACCOUNT, useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

const up = useUploadCloud('chaos-blob')
beforeAll(() => void up.addStorageAccount())

const blobRequest =
  (method: string) =>
  (req: http.IncomingMessage): boolean =>
    req.method === method &&
    /\/vhds\/[^/?]+\.vhd(\?|$)/.test(req.url ?? '') &&
    !/comp=/.test(req.url ?? '')

describe('upload to a storage account: a dropped connection on a blob request', () => {
  it.each([
    ['Get Blob Properties (HEAD)', 'HEAD'],
    ['Put Blob (creating the page blob)', 'PUT']
  ])('rides through a connection dropped on %s', async (_what, method) => {
    const vhd = up.path(`${method.toLowerCase()}.raw`)
    await writeRawImage(vhd, 24 * MiB, [{ offset: MiB, length: MiB }])
    const proxy = up.cloud.storageProxy!
    const injected = proxy.injected
    proxy.faults.add({ match: blobRequest(method), drop: true })
    const name = `dropped-${method.toLowerCase()}`
    const run = await up.run({
      vhd,
      'image-name': name,
      'upload-via': 'storage-account',
      'storage-account': STORAGE_ACCOUNT
    })
    proxy.faults.clear()
    expect(proxy.injected - injected).toBe(1)
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.outputs['image-id']).toMatch(new RegExp(`/images/${name}$`))
  })
})
