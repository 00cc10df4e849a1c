/**
 * A fresh self-signed certificate per emulator, so the action child trusts it via
 * NODE_EXTRA_CA_CERTS. Under `npm test` one certificate is made before jest starts
 * (certificate.mjs, ARM_EMULATOR_TLS_DIR) so the test processes trust it from their start too:
 * Node 20 cannot add a trusted certificate to a running process.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generateCertificate } from './certificate.mjs'

export interface TlsMaterial {
  key: string
  cert: string
  caCertPath: string
  dir: string
  /** Whether the emulator made (and so removes) `dir`; a shared certificate is left alone. */
  owned: boolean
}

export async function makeCertificate(): Promise<TlsMaterial> {
  const shared = process.env.ARM_EMULATOR_TLS_DIR
  if (shared && existsSync(join(shared, 'key.pem')) && existsSync(join(shared, 'cert.pem'))) {
    const caCertPath = resolve(shared, 'cert.pem')
    return {
      key: readFileSync(join(shared, 'key.pem'), 'utf8'),
      cert: readFileSync(caCertPath, 'utf8'),
      caCertPath,
      dir: shared,
      owned: false
    }
  }
  const pems = await generateCertificate()
  const dir = mkdtempSync(join(tmpdir(), 'arm-emulator-'))
  const caCertPath = join(dir, 'ca.pem')
  writeFileSync(caCertPath, pems.cert)
  return { key: pems.private, cert: pems.cert, caCertPath, dir, owned: true }
}
