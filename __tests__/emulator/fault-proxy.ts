/**
 * A small HTTP(S) proxy in front of Azurite (or any HTTP target) that injects faults into Put Page
 * requests (`PUT ...?comp=page`): drop the connection, answer 503 ServerBusy like Azure Storage,
 * or acknowledge a write with 201 Created without forwarding it (a lost write). Faults may match any
 * request and answer a Storage error (`status` with `code` and `message`, Azure Storage's XML error
 * body: README "Storage replies"), or run an action before forwarding (`before`).
 *
 * It also records every Put Page it sees (`pageWrites`): the headers that matter for integrity and
 * the MD5 and size of the body as it arrived. Only hashes and sizes are kept, never the bodies.
 */
import http from 'node:http'
import https from 'node:https'
import { readFileSync } from 'node:fs'
import { createHash, randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { Transform, type Readable } from 'node:stream'

export interface ProxyFault {
  /** default: PUT with comp=page */
  match?: (req: http.IncomingMessage) => boolean
  times?: number
  drop?: boolean
  status?: number
  delayMs?: number
  /**
   * Read the body, answer 201 Created with the headers Azure Storage sends for a Put Page, and
   * do not forward the request: the client believes a write landed that the target never saw.
   */
  lose?: boolean
  /** Placement by count: the first `after` matching requests pass untouched. */
  after?: number
  /**
   * Forward the request, then close the client's connection without the answer: the write landed
   * but the client cannot know it.
   */
  dropResponse?: boolean
  /** With `status`: the Storage error code (`x-ms-error-code` and `<Code>`) and message. */
  code?: string
  message?: string
  /** Run this (e.g. change the blob behind the proxy) before the request is forwarded. */
  before?: () => Promise<void>
}

/** One request as the proxy saw it (every method, not only Put Page). */
export interface ProxyRequestRecord {
  method: string
  /** Path and query, with any `sig=` value replaced. */
  url: string
  /** 'Bearer', 'SharedKey', or undefined (a SAS or anonymous). */
  auth?: string
  /** `If-Match` / `If-None-Match` request headers, as sent. */
  ifMatch?: string
  ifNoneMatch?: string
  status?: number
}

/**
 * Azure Storage's error bodies (Common REST API error codes, Microsoft Learn
 * rest/api/storageservices/common-rest-api-error-codes): `ServerBusy` 503 "The server is busy."
 * (the message with its RequestId/Time lines as microsoft/vscode-azurestorage#502 quotes it),
 * `InternalError` 500 "The server encountered an internal error. Please retry the request.",
 * `OperationTimedOut` 500 "The operation could not be completed within the permitted time."
 */
const STORAGE_ERRORS: Record<string, string> = {
  ServerBusy: 'The server is busy.',
  InternalError: 'The server encountered an internal error. Please retry the request.',
  OperationTimedOut: 'The operation could not be completed within the permitted time.'
}

function storageErrorBody(code: string, requestId: string, text?: string): string {
  const message = `${text ?? STORAGE_ERRORS[code] ?? 'Injected fault.'}\nRequestId:${requestId}\nTime:${new Date().toISOString().replace('Z', '0000Z')}`
  return `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`
}

/** One Put Page as the proxy saw it. */
export interface PageWriteRecord {
  /** `x-ms-page-write`: 'update' (data) or 'clear'. */
  pageWrite?: string
  /** The `x-ms-range` header, or `Range` if that is what the client sent. */
  range?: string
  /** Start and length parsed from `range` (`bytes=start-end`, inclusive). */
  offset?: number
  count?: number
  /** The `Content-MD5` request header (base64), as sent. */
  contentMD5?: string
  /** MD5 (base64) of the body bytes that arrived, and how many there were ('' and 0 if dropped). */
  bodyMD5: string
  bodySize: number
  /** What the proxy did: forward to the target, or the fault it injected. */
  handling: 'forwarded' | 'dropped' | 'status' | 'lost' | 'unanswered'
  /** The status the client got (undefined when the connection was dropped). */
  status?: number
}

export interface FaultProxy {
  url: string
  faults: { add(f: ProxyFault): void; clear(): void }
  /** how many requests matched a fault and were disturbed */
  injected: number
  requests: number
  /** Every Put Page (`PUT ...comp=page`) in arrival order; records complete once the body is read. */
  pageWrites: PageWriteRecord[]
  /** Every request in arrival order. */
  log: ProxyRequestRecord[]
  close(): Promise<void>
}

const isPutPage = (req: http.IncomingMessage): boolean =>
  req.method === 'PUT' && /[?&]comp=page(&|$)/.test(req.url ?? '')

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name]
  return Array.isArray(v) ? v.join(',') : v
}

function parseRange(range: string | undefined): { offset?: number; count?: number } {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '')
  return m ? { offset: Number(m[1]), count: Number(m[2]) - Number(m[1]) + 1 } : {}
}

/** Headers Azure Storage answers a successful Put Page with (2021+ service versions). */
function putPageCreatedHeaders(
  req: http.IncomingMessage,
  bodyMD5: string
): http.OutgoingHttpHeaders {
  return {
    'content-length': '0',
    etag: `"0x8DC${randomUUID().replace(/-/g, '').slice(0, 12).toUpperCase()}"`,
    'last-modified': new Date().toUTCString(),
    date: new Date().toUTCString(),
    'content-md5': header(req, 'content-md5') ?? bodyMD5,
    'x-ms-blob-sequence-number': '0',
    'x-ms-request-server-encrypted': 'true',
    'x-ms-request-id': randomUUID(),
    'x-ms-version': header(req, 'x-ms-version') ?? '2025-01-05',
    ...(req.headers['x-ms-client-request-id']
      ? { 'x-ms-client-request-id': header(req, 'x-ms-client-request-id') }
      : {}),
    server: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0'
  }
}

export interface FaultProxyOptions {
  /** Serve https with this PEM certificate and key (paths); the target is then reached over https too. */
  tls?: { cert: string; key: string }
}

export async function startFaultProxy(
  targetUrl: string,
  options: FaultProxyOptions = {}
): Promise<FaultProxy> {
  const target = new URL(targetUrl)
  const tlsOptions = options.tls
    ? { cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) }
    : undefined
  const faults: ProxyFault[] = []
  const proxy: FaultProxy = {
    url: '',
    injected: 0,
    requests: 0,
    pageWrites: [],
    log: [],
    faults: { add: f => void faults.push(f), clear: () => void faults.splice(0) },
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    proxy.requests++
    const entry: ProxyRequestRecord = {
      method: req.method ?? '',
      url: (req.url ?? '').replace(/([?&]sig=)[^&]*/i, '$1REDACTED'),
      auth: /^(Bearer|SharedKey)\b/i.exec(header(req, 'authorization') ?? '')?.[1],
      ifMatch: header(req, 'if-match'),
      ifNoneMatch: header(req, 'if-none-match')
    }
    proxy.log.push(entry)
    res.on('finish', () => (entry.status = res.statusCode))
    let i = -1
    for (let j = 0; j < faults.length; j++) {
      const candidate = faults[j]
      if (!(candidate.match ?? isPutPage)(req)) continue
      if (candidate.after && candidate.after > 0) {
        candidate.after--
        continue
      }
      i = j
      break
    }
    const f = i >= 0 ? faults[i] : undefined
    if (f) {
      const left = (f.times ?? 1) - 1
      if (left <= 0) faults.splice(i, 1)
      else f.times = left
      proxy.injected++
    }

    // Hash the body as it streams past (to the target, or to nowhere for a fault). A tap in the
    // pipe, not a 'data' listener: that would start the flow before a delayed forward is piped.
    let record: PageWriteRecord | undefined
    let body: Readable = req
    if (isPutPage(req)) {
      const range = header(req, 'x-ms-range') ?? header(req, 'range')
      const r: PageWriteRecord = {
        pageWrite: header(req, 'x-ms-page-write'),
        range,
        ...parseRange(range),
        contentMD5: header(req, 'content-md5'),
        bodyMD5: '',
        bodySize: 0,
        handling: f?.drop
          ? 'dropped'
          : f?.lose
            ? 'lost'
            : f?.status
              ? 'status'
              : f?.dropResponse
                ? 'unanswered'
                : 'forwarded'
      }
      record = r
      proxy.pageWrites.push(r)
      const hash = createHash('md5')
      body = req.pipe(
        new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk)
            r.bodySize += chunk.length
            callback(null, chunk)
          },
          flush(callback) {
            r.bodyMD5 = hash.digest('base64')
            callback()
          }
        })
      )
      res.on('finish', () => (r.status = res.statusCode))
    }

    const forward = (): void => {
      if (f?.drop) {
        req.socket.destroy()
        return
      }
      if (f?.lose) {
        body.on('end', () => {
          res.writeHead(201, putPageCreatedHeaders(req, record?.bodyMD5 ?? ''))
          res.end()
        })
        body.resume()
        return
      }
      if (f?.status) {
        body.resume()
        const code = f.code ?? (f.status === 503 ? 'ServerBusy' : 'InternalError')
        const requestId = randomUUID()
        res.writeHead(f.status, {
          'x-ms-error-code': code,
          'x-ms-request-id': requestId,
          'content-type': 'application/xml',
          server: 'Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0'
        })
        res.end(storageErrorBody(code, requestId, f.message))
        return
      }
      const up = (tlsOptions ? https : http).request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host }
        },
        upRes => {
          if (f?.dropResponse) {
            // The target carried the request out; the client never hears so.
            upRes.resume()
            upRes.on('end', () => req.socket.destroy())
            return
          }
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        }
      )
      up.on('error', () => res.destroy())
      body.pipe(up)
    }
    const go = (): void => {
      if (f?.delayMs) setTimeout(forward, f.delayMs)
      else forward()
    }
    if (f?.before) {
      // Hold the body until the action is done; then forward as usual.
      req.pause()
      f.before().then(go, () => res.destroy())
    } else go()
  }
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  proxy.url = `${tlsOptions ? 'https' : 'http'}://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`
  return proxy
}
