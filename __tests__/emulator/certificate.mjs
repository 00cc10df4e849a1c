/**
 * The emulator's TLS certificate: self-signed, valid for 127.0.0.1 and localhost, and its own CA so
 * NODE_EXTRA_CA_CERTS accepts it as a root. Plain JavaScript so `npm test` can make one before
 * jest starts (make-certificate.mjs).
 */
import { randomBytes } from 'node:crypto'
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
