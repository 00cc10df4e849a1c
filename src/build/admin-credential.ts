/**
 * The build VM's admin credential, generated for this run and forgotten with it: nothing ever signs
 * in with it (the scripts travel through Run Command), but Azure requires one to create a VM.
 *
 * Linux: an RSA key pair, of which only the public key leaves the process. The VM API's `keyData`
 * is "at least 2048-bit and in ssh-rsa format" (SshPublicKey in the Compute REST spec; ED25519 is
 * refused by some Azure paths: learn.microsoft.com troubleshoot "ed25519-ssh-keys"), so RSA 3072.
 * The private key is never exported. Windows: a random password within Azure's rules ("between 12
 * and 123 characters" with 3 of: lower case, upper case, digit, special character; not one of the
 * disallowed values: Windows VM FAQ, "What are the password requirements when creating a VM?").
 */
import { generateKeyPairSync, randomInt } from 'node:crypto'
import type { OsType } from '../plan.js'

/** Not one of the names Azure refuses ('admin', 'administrator', 'root', 'user', …), ≤ 20 characters. */
export const ADMIN_USERNAME = 'vmimagebuilder'

export type AdminCredential =
  | { osType: 'Linux'; username: string; sshPublicKey: string }
  | { osType: 'Windows'; username: string; password: string }

/** The OpenSSH `ssh-rsa` line of an RSA public key (RFC 4253 §6.6: string, mpint e, mpint n). */
export function openSshRsaPublicKey(jwk: { e?: string; n?: string }, comment: string): string {
  const field = (bytes: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    return Buffer.concat([length, bytes])
  }
  // An mpint is two's complement: a leading 0 byte keeps a high first bit positive.
  const mpint = (b64url: string): Buffer => {
    const bytes = Buffer.from(b64url, 'base64url')
    return field(bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
  }
  const blob = Buffer.concat([
    field(Buffer.from('ssh-rsa')),
    mpint(jwk.e ?? ''),
    mpint(jwk.n ?? '')
  ])
  return `ssh-rsa ${blob.toString('base64')} ${comment}`
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz'
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ'
const DIGITS = '23456789'
// No quote, backslash or '$': the password never passes through a shell, but stays plain anyway.
const SPECIAL = '!#%+-=?@^_~'

/** A password of `length` with every character class Azure counts, in random places. */
export function randomPassword(length = 32): string {
  const all = LOWER + UPPER + DIGITS + SPECIAL
  const pick = (set: string): string => set[randomInt(set.length)]
  const chars = [pick(LOWER), pick(UPPER), pick(DIGITS), pick(SPECIAL)]
  while (chars.length < length) chars.push(pick(all))
  // Fisher-Yates, so the four guaranteed classes are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1)
    ;[chars[i], chars[j]] = [chars[j], chars[i]]
  }
  return chars.join('')
}

/**
 * A new credential; `mask` is called with every secret part before this returns (the runner's
 * setSecret), so nothing printed later can show it.
 */
export function generateAdminCredential(
  osType: OsType,
  mask: (secret: string) => void
): AdminCredential {
  if (osType === 'Windows') {
    const password = randomPassword()
    mask(password)
    return { osType, username: ADMIN_USERNAME, password }
  }
  // The private key stays inside this function's key object and is dropped on return.
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 })
  const jwk = publicKey.export({ format: 'jwk' })
  return {
    osType,
    username: ADMIN_USERNAME,
    sshPublicKey: openSshRsaPublicKey(jwk, 'azure-vm-image-build')
  }
}
