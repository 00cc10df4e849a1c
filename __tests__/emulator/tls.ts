/** A fresh self-signed certificate per emulator, so the action child trusts it via NODE_EXTRA_CA_CERTS. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generate } from 'selfsigned'

export interface TlsMaterial {
  key: string
  cert: string
  caCertPath: string
  dir: string
}

export async function makeCertificate(): Promise<TlsMaterial> {
  // A unique subject per emulator: two trusted roots with the same name confuse OpenSSL's issuer lookup.
  const cn = `arm-emulator-${randomBytes(6).toString('hex')}`
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      // A self-signed leaf that is also its own CA: NODE_EXTRA_CA_CERTS then accepts it as a root.
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' }
        ]
      }
    ]
  })
  const dir = mkdtempSync(join(tmpdir(), 'arm-emulator-'))
  const caCertPath = join(dir, 'ca.pem')
  writeFileSync(caCertPath, pems.cert)
  return { key: pems.private, cert: pems.cert, caCertPath, dir }
}
