/**
 * Entry of the one bundle that serves both the main and the post step: the is-post state, saved by
 * main, tells them apart (as actions/checkout does). This is the only place bound to @actions/core.
 */
import * as core from '@actions/core'
import { context } from '@actions/github'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { cliSessionSubscription } from './azure/cli-session.js'
import { State } from './constants.js'
import { errorMessage } from './error-message.js'
import type { Logger } from './log.js'
import { runMain } from './main.js'
import type { Runner } from './runner.js'
import { runPost } from './post.js'
import { guardLines, oneLine } from './untrusted.js'

// log-sink: callers make each line safe (oneLine, printUntrusted; test: log-hygiene.test.ts),
// and guardLines defuses any line outside printUntrusted's blocks that still looks like a command;
// core.warning and core.debug also escape %, CR and LF (@actions/core command.js escapeData).
const info = guardLines(text => core.info(text)) // log-sink: see above
const log: Logger = {
  info,
  warning: m => core.warning(m), // log-sink: see above
  debug: m => core.debug(m), // log-sink: see above
  group: (name, fn) => core.group(name, fn),
  secret: v => core.setSecret(v)
}

function hasAzureCli(): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .some(dir => dir !== '' && existsSync(join(dir, 'az')))
}

/**
 * Outputs and state go only through the file commands (GITHUB_OUTPUT, GITHUB_STATE). Without the
 * file, @actions/core would fall back to `::set-output`/`::save-state` on stdout, the channel that
 * outside text must never reach; every runner that runs node24 actions provides both files.
 */
const FILE_COMMANDS = ['GITHUB_OUTPUT', 'GITHUB_STATE'] as const
const missingFileCommands = FILE_COMMANDS.filter(name => !process.env[name])

const runner: Runner = {
  getInput: name => core.getInput(name),
  setOutput: (name, value) => core.setOutput(name, value),
  saveState: (name, value) => core.saveState(name, value),
  writeSummary: async markdown => {
    if (process.env.GITHUB_STEP_SUMMARY) await core.summary.addRaw(markdown, true).write()
  },
  error: message => core.error(message),
  log,
  getIDToken: audience => core.getIDToken(audience),
  env: process.env,
  onCancel: handler => {
    process.on('SIGINT', handler)
    process.on('SIGTERM', handler)
    return () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    }
  },
  // Cloud metadata decides where credentials go: read over https from the endpoint named, and a
  // redirect (possibly to http or another host) is an error rather than followed (issue 14).
  fetchJson: async (url, signal) => {
    if (new URL(url).protocol !== 'https:') throw new Error(`GET ${url}: only https is used`)
    const response = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'manual',
      signal: signal
        ? AbortSignal.any([AbortSignal.timeout(60_000), signal])
        : AbortSignal.timeout(60_000)
    })
    if (response.status >= 300 && response.status < 400) {
      throw new Error(
        `GET ${url} answered ${response.status}, a redirect: cloud metadata is read only from the endpoint named in 'resource-manager-endpoint', redirects are not followed.`
      )
    }
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`)
    return response.json()
  },
  hasAzureCli,
  planContext: () => ({
    now: new Date(),
    defaults: {
      env: process.env,
      cliSubscription: () => (hasAzureCli() ? cliSessionSubscription() : undefined)
    },
    run: {
      repository: process.env.GITHUB_REPOSITORY ? `${context.repo.owner}/${context.repo.repo}` : '',
      sha: context.sha ?? '',
      ref: context.ref ?? '',
      workflow: context.workflow ?? '',
      runId: String(context.runId),
      runAttempt: Number.isFinite(context.runAttempt) ? context.runAttempt : 1,
      runNumber: context.runNumber,
      job: process.env.GITHUB_JOB ?? ''
    }
  })
}

async function run(): Promise<number> {
  if (missingFileCommands.length > 0) {
    core.error(
      `${missingFileCommands.join(' and ')} not set: this action writes outputs and state only through the runner's file commands; use a runner that provides them (2.297.0 or later).`
    )
    return 1
  }
  const isPost = core.getState(State.IsPost) === 'true'
  return isPost ? runPost(runner, name => core.getState(name)) : runMain(runner)
}

const code = await run().catch((e: unknown) => {
  core.error(`Unexpected failure: ${errorMessage(e)}`)
  core.debug(oneLine(e instanceof Error ? (e.stack ?? '') : ''))
  return 1
})
// Exit explicitly: an abandoned poller (Sysprep's run command never reports) must not keep us alive.
process.exit(code)
