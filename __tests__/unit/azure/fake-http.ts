/** A scripted HttpClient and TokenCredential, so real SDK pipelines run without a network. */
import {
  createHttpHeaders,
  type HttpClient,
  type PipelineRequest,
  type PipelineResponse
} from '@azure/core-rest-pipeline'
import type { AccessToken, TokenCredential } from '@azure/identity'
import type { Logger } from '../../../src/log.js'

export interface Reply {
  status: number
  headers?: Record<string, string>
  body?: unknown
}

export interface Sent {
  method: string
  url: string
  authorization?: string
}

/** Answers requests in order with `replies` (an Error is thrown instead of answered). */
export function scriptedHttpClient(replies: Array<Reply | Error>): HttpClient & { sent: Sent[] } {
  const sent: Sent[] = []
  return {
    sent,
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      sent.push({
        method: request.method,
        url: request.url,
        authorization: request.headers.get('Authorization')
      })
      const next = replies.shift()
      if (next === undefined) throw new Error(`unexpected request ${request.method} ${request.url}`)
      if (next instanceof Error) throw next
      return reply(request, next)
    }
  }
}

export function reply(request: PipelineRequest, r: Reply): PipelineResponse {
  return {
    request,
    status: r.status,
    headers: createHttpHeaders({
      ...(r.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...r.headers
    }),
    bodyAsText: r.body === undefined ? '' : JSON.stringify(r.body)
  }
}

/** Hands out the given tokens in order (the last one repeats), counting calls and refreshes. */
export function tokenSequence(tokens: string[]): TokenCredential & {
  calls: number
  refreshes: number
  refresh(): void
} {
  let i = 0
  const credential = {
    calls: 0,
    refreshes: 0,
    async getToken(): Promise<AccessToken> {
      credential.calls++
      const token = tokens[Math.min(i++, tokens.length - 1)]
      return { token, expiresOnTimestamp: Date.now() + 3600_000 }
    },
    refresh() {
      credential.refreshes++
    }
  }
  return credential
}

export function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: m => void lines.push(`info ${m}`),
    warning: m => void lines.push(`warning ${m}`),
    debug: m => void lines.push(`debug ${m}`),
    group: (_n, fn) => fn(),
    secret: () => undefined
  }
}
