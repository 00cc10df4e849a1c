/**
 * Keeping secrets out of logs. The runner's masker (core.setSecret) replaces exact substrings only,
 * so a SAS URL has to be registered in every form it may be printed in: whole, its query string, and
 * its signature both URL-encoded (as it sits in the URL) and decoded (as a parser hands it back).
 * Everything here is pure string work; the caller passes the masker in.
 */

/** Query parameters that carry a credential: `sig` in SAS tokens, the rest in OAuth-style URLs. */
const SECRET_PARAMS = [
  'sig',
  'signature',
  'access_token',
  'client_secret',
  'client_assertion',
  'code'
]
const SECRET_PARAM_RE = new RegExp(`([?&](?:${SECRET_PARAMS.join('|')})=)[^&#\\s"'<>]*`, 'gi')

export const REDACTED = '***'

/**
 * Replaces every occurrence of each secret (and its URL-encoded form) with `***`. Longer secrets go
 * first so that a secret containing another one is not left half-replaced.
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (!secret) continue
    forms.add(secret)
    const encoded = encodeURIComponent(secret)
    if (encoded !== secret) forms.add(encoded)
  }
  let result = text
  for (const form of [...forms].sort((a, b) => b.length - a.length)) {
    result = result.split(form).join(REDACTED)
  }
  return result
}

/**
 * Replaces the value of credential-bearing query parameters (`sig=`…) in a URL, or in any text that
 * contains URLs (error messages quote them). The rest of the URL stays readable for diagnosis.
 */
export function redactUrl(urlOrText: string): string {
  return urlOrText.replace(SECRET_PARAM_RE, `$1${REDACTED}`)
}

/** The raw (as written, still URL-encoded) `sig` value of a SAS URL, or undefined. */
function rawSignature(url: string): string | undefined {
  const match = /[?&]sig=([^&#\s]*)/i.exec(url)
  return match?.[1] || undefined
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return value
  }
}

/** The decoded `sig` value of a SAS URL (what `URLSearchParams` returns), or undefined. */
export function sasSignatureOf(url: string): string | undefined {
  const raw = rawSignature(url)
  return raw === undefined ? undefined : safeDecode(raw)
}

/**
 * Registers a SAS URL with the runner's masker in every form a log line may contain: the whole URL,
 * the query string (with and without `?`, encoded and decoded), and the signature (encoded, decoded
 * and re-encoded, since `+`, `/` and `=` in a base64 signature are written either way). A URL
 * without a query string carries no secret and registers nothing.
 */
export function maskUrlSecrets(url: string, setSecret: (value: string) => void): void {
  const queryStart = url.indexOf('?')
  if (queryStart < 0) return
  const hashStart = url.indexOf('#', queryStart)
  const query = url.slice(queryStart + 1, hashStart < 0 ? undefined : hashStart)
  if (!query) return
  const values = new Set<string>([url, query, safeDecode(query)])
  const raw = rawSignature(url)
  if (raw) {
    const decoded = safeDecode(raw)
    values.add(raw)
    values.add(decoded)
    values.add(encodeURIComponent(decoded))
  }
  for (const value of values) {
    if (value) setSecret(value)
  }
}
