import { describe, it, expect } from '@jest/globals'
import { maskUrlSecrets, redact, redactUrl, sasSignatureOf } from '../../../src/secrets.js'

const SIG = 'aB3+/cD=='
const SIG_ENC = encodeURIComponent(SIG) // aB3%2B%2FcD%3D%3D
const SAS = `https://md-abc.z1.blob.storage.azure.net/xyz/abcd?sv=2018-03-28&sr=b&si=1a2b&sp=rw&sig=${SIG_ENC}`

describe('redact', () => {
  it('replaces every occurrence of each secret', () => {
    expect(redact('a s3cret and s3cret again', ['s3cret'])).toBe('a *** and *** again')
  })

  it('replaces the URL-encoded form too', () => {
    expect(redact(`token=${encodeURIComponent('p@ss/word')}`, ['p@ss/word'])).toBe('token=***')
  })

  it('replaces longer secrets first so no fragment remains', () => {
    expect(redact('abcdef', ['abc', 'abcdef'])).toBe('***')
  })

  it('ignores empty and undefined secrets', () => {
    expect(redact('text', ['', undefined])).toBe('text')
  })
})

describe('sasSignatureOf', () => {
  it('returns the decoded signature', () => {
    expect(sasSignatureOf(SAS)).toBe(SIG)
  })

  it('returns undefined without a signature', () => {
    expect(sasSignatureOf('https://x.blob.core.windows.net/c/b?sv=1')).toBeUndefined()
    expect(sasSignatureOf('https://x.blob.core.windows.net/c/b')).toBeUndefined()
  })

  it('finds sig case-insensitively and not inside another parameter name', () => {
    expect(sasSignatureOf('https://h/p?SIG=abc')).toBe('abc')
    expect(sasSignatureOf('https://h/p?xsig=abc')).toBeUndefined()
  })
})

describe('redactUrl', () => {
  it('removes the signature and keeps the rest readable', () => {
    const out = redactUrl(SAS)
    expect(out).not.toContain(SIG_ENC)
    expect(out).toContain('sig=***')
    expect(out).toContain('sp=rw')
    expect(out).toContain('md-abc.z1.blob.storage.azure.net/xyz/abcd')
  })

  it('works inside free text with several URLs', () => {
    const text = `copy from ${SAS} to https://a.blob.core.windows.net/c/d?sig=zzz&se=1 failed`
    const out = redactUrl(text)
    expect(out).not.toContain(SIG_ENC)
    expect(out).not.toContain('zzz')
    expect(out).toContain('&se=1 failed')
  })

  it('leaves URLs without secrets unchanged', () => {
    const url = 'https://management.azure.com/subscriptions/s?api-version=2024-01-01'
    expect(redactUrl(url)).toBe(url)
  })
})

describe('maskUrlSecrets', () => {
  it('registers the URL, the query in both encodings and the signature in every form', () => {
    const masked: string[] = []
    maskUrlSecrets(SAS, v => masked.push(v))
    const query = SAS.slice(SAS.indexOf('?') + 1)
    expect(masked).toEqual(
      expect.arrayContaining([SAS, query, decodeURIComponent(query), SIG_ENC, SIG])
    )
    expect(masked).not.toContain('')
  })

  it('masks every printed form: a line with any of them is fully hidden', () => {
    const masked: string[] = []
    maskUrlSecrets(SAS, v => masked.push(v))
    const hide = (line: string): string => redact(line, masked)
    for (const line of [SAS, `sig=${SIG}`, `params ${decodeURIComponent(SAS.split('?')[1])}`]) {
      expect(hide(line)).not.toContain(SIG)
      expect(hide(line)).not.toContain(SIG_ENC)
    }
  })

  it('registers nothing for a URL without a query string', () => {
    const masked: string[] = []
    maskUrlSecrets('https://a.blob.core.windows.net/c/b.vhd', v => masked.push(v))
    maskUrlSecrets('https://a.blob.core.windows.net/c/b.vhd?', v => masked.push(v))
    expect(masked).toEqual([])
  })
})
