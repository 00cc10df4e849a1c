/**
 * Starts a throw-away Azurite blob service for tests and the benchmark: 127.0.0.1, a free port
 * chosen by the OS, disk persistence in a fresh temp folder (in-memory persistence keeps every
 * byte written in RSS and does not free it for 10+ minutes), stopped by PID. Plain http unless
 * asked for https (and then, optionally, Entra ID bearer tokens with `--oauth basic`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Azurite's documented development account. */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1'
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

export interface AzuriteInstance {
  blobEndpoint: string
  accountName: string
  accountKey: string
  connectionString: string
  pid: number
  location: string
  stop(): Promise<void>
}

function azuriteBlobMain(): string {
  // The package's `azurite-blob` bin is dist/src/blob/main.js; resolve it without relying on cwd.
  const require = createRequire(import.meta.url)
  const pkg = require.resolve('azurite/package.json')
  return join(pkg, '..', 'dist', 'src', 'blob', 'main.js')
}

export interface AzuriteOptions {
  timeoutMs?: number
  /** Serve https with this PEM certificate and key (paths); plain http without. */
  https?: { cert: string; key: string }
  /** `--oauth basic`: accept Entra bearer tokens (needs `https`); Azurite decodes them, never verifies signatures. */
  oauth?: boolean
}

export async function startAzurite(options: AzuriteOptions = {}): Promise<AzuriteInstance> {
  const location = await mkdtemp(join(tmpdir(), 'azurite-'))
  const child: ChildProcess = spawn(
    process.execPath,
    [
      azuriteBlobMain(),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--skipApiVersionCheck',
      '--loose',
      '--silent',
      '--disableTelemetry',
      '--location',
      location,
      ...(options.https ? ['--cert', options.https.cert, '--key', options.https.key] : []),
      ...(options.oauth ? ['--oauth', 'basic'] : [])
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } }
  )
  let output = ''
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, 'SIGTERM')
      const timer = setTimeout(
        () =>
          child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL'),
        5000
      )
      await exited
      clearTimeout(timer)
    }
    await rm(location, { recursive: true, force: true, maxRetries: 3 })
  }
  try {
    const blobEndpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`Azurite did not start within ${options.timeoutMs ?? 30000} ms:\n${output}`)
          ),
        options.timeoutMs ?? 30000
      )
      const onData = (data: Buffer): void => {
        output += data.toString()
        const match = /listens on (https?:\/\/[\d.]+:\d+)/.exec(output)
        if (match) {
          clearTimeout(timer)
          resolve(`${match[1]}/${AZURITE_ACCOUNT_NAME}`)
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('exit', code => {
        clearTimeout(timer)
        reject(new Error(`Azurite exited with code ${code}:\n${output}`))
      })
    })
    // Keep draining so a full pipe never blocks Azurite.
    child.stdout?.resume()
    child.stderr?.resume()
    return {
      blobEndpoint,
      accountName: AZURITE_ACCOUNT_NAME,
      accountKey: AZURITE_ACCOUNT_KEY,
      connectionString: `DefaultEndpointsProtocol=${options.https ? 'https' : 'http'};AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
      pid: child.pid!,
      location,
      stop
    }
  } catch (e) {
    await stop()
    throw e
  }
}
