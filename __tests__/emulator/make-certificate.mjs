/**
 * `node __tests__/emulator/make-certificate.mjs <dir>`: what `npm test` runs before jest. Node 20
 * cannot trust a new certificate in a process that is already running, so the test processes start
 * with this one (NODE_EXTRA_CA_CERTS) and the emulators they start serve it (ARM_EMULATOR_TLS_DIR).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate } from 'node:crypto'
import { generateCertificate } from './certificate.mjs'

/** Whether `dir` already holds a certificate good for at least another day. */
function stillValid(dir) {
  try {
    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')))
    return existsSync(join(dir, 'key.pem')) && Date.parse(cert.validTo) > Date.now() + 86_400_000
  } catch {
    return false
  }
}

const dir = process.argv[2]
if (!dir) throw new Error('usage: node make-certificate.mjs <dir>')
// Kept while valid: test runs started side by side then share one certificate instead of
// replacing the one the other run's processes already trust.
if (!stillValid(dir)) {
  mkdirSync(dir, { recursive: true })
  const pems = await generateCertificate()
  // Key first, certificate last and by rename: a reader never sees a certificate without its key.
  writeFileSync(join(dir, 'key.pem'), pems.private)
  writeFileSync(join(dir, `cert.pem.${process.pid}`), pems.cert)
  renameSync(join(dir, `cert.pem.${process.pid}`), join(dir, 'cert.pem'))
}
