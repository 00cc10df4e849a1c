/**
 * The emulator's TLS certificate: self-signed, valid for 127.0.0.1 and localhost, and its own CA so
 * NODE_EXTRA_CA_CERTS accepts it as a root. Plain JavaScript so `npm test` can run it before jest
 * (node __tests__/emulator/certificate.mjs <dir>): Node 20 cannot trust a new certificate in a
 * process that is already running, so the test processes must start with it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { X509Certificate, randomBytes } from 'node:crypto'
import { pathToFileURL } from 'node:url'
import { generate } from 'selfsigned'

/** @returns {Promise<{ private: string, cert: string }>} */
export function generateCertificate() {
  // A unique subject per certificate: two trusted roots with one name confuse OpenSSL's issuer lookup.
  const cn = `arm-emulator-${randomBytes(6).toString('hex')}`
  return generate([{ name: 'commonName', value: cn }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
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
}

/** Whether `dir` already holds a certificate good for at least another day. */
function stillValid(dir) {
  try {
    const cert = new X509Certificate(readFileSync(join(dir, 'cert.pem')))
    return existsSync(join(dir, 'key.pem')) && Date.parse(cert.validTo) > Date.now() + 86_400_000
  } catch {
    return false
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const dir = process.argv[2]
  if (!dir) throw new Error('usage: node certificate.mjs <dir>')
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
}
