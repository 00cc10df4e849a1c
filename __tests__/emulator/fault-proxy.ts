/**
 * A small HTTP proxy in front of Azurite (or any HTTP target) that injects faults into Put Page
 * requests (`PUT ...?comp=page`): drop the connection or answer 503 ServerBusy like Azure Storage.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ProxyFault {
  /** default: PUT with comp=page */
  match?: (req: http.IncomingMessage) => boolean
  times?: number
  drop?: boolean
  status?: number
  delayMs?: number
}

export interface FaultProxy {
  url: string
  faults: { add(f: ProxyFault): void; clear(): void }
  /** how many requests matched a fault and were disturbed */
  injected: number
  requests: number
  close(): Promise<void>
}

const isPutPage = (req: http.IncomingMessage): boolean =>
  req.method === 'PUT' && /[?&]comp=page(&|$)/.test(req.url ?? '')

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl)
  const faults: ProxyFault[] = []
  const proxy: FaultProxy = {
    url: '',
    injected: 0,
    requests: 0,
    faults: { add: f => void faults.push(f), clear: () => void faults.splice(0) },
    close: () => new Promise(resolve => server.close(() => resolve()))
  }
  const server = http.createServer((req, res) => {
    proxy.requests++
    const i = faults.findIndex(f => (f.match ?? isPutPage)(req))
    const f = i >= 0 ? faults[i] : undefined
    if (f) {
      const left = (f.times ?? 1) - 1
      if (left <= 0) faults.splice(i, 1)
      else f.times = left
      proxy.injected++
    }
    const forward = (): void => {
      if (f?.drop) {
        req.socket.destroy()
        return
      }
      if (f?.status) {
        req.resume()
        res.writeHead(f.status, {
          'x-ms-error-code': f.status === 503 ? 'ServerBusy' : 'InternalError',
          'content-type': 'application/xml'
        })
        res.end(
          `<?xml version="1.0" encoding="utf-8"?><Error><Code>${f.status === 503 ? 'ServerBusy' : 'InternalError'}</Code><Message>Injected fault.</Message></Error>`
        )
        return
      }
      const up = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host }
        },
        upRes => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        }
      )
      up.on('error', () => res.destroy())
      req.pipe(up)
    }
    if (f?.delayMs) setTimeout(forward, f.delayMs)
    else forward()
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  proxy.url = `http://127.0.0.1:${port}${target.pathname.replace(/\/$/, '')}`
  return proxy
}
