/**
 * Loading the build's customization scripts from the workspace, and refusing what cannot be sent,
 * before anything is created in Azure: a missing file, a path outside the workspace (symlinks
 * resolved), something that is not a regular file, an empty script, a script over the size limit.
 *
 * The size limit. Microsoft Learn documents no limit for an inline managed Run Command script
 * (`properties.source.script`; linux/run-command-managed.md, windows/run-command-managed.md), and
 * the REST specification sets no `maxLength` on it. The Linux handler that runs it declares
 * `maxScriptSize = 256 * 1024` (Azure/run-command-handler-linux, internal/cmds/cmds.go, commit
 * f95dc245dce0f66856c8b3d3bf8f21340a1ed7d7); the Windows handler's source is not public. So the
 * action holds every script, on both systems, to 256 KiB of UTF-8, the one figure Azure's own code
 * states, and names the file and how far over it is. A larger job belongs in a file the script
 * downloads (or in several scripts).
 */
import { lstat, readFile, realpath } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { Inputs } from '../constants.js'
import { InputError } from '../input-error.js'
import { oneLine } from '../untrusted.js'

/** 256 KiB: the Linux Run Command handler's `maxScriptSize` (see above). */
export const MAX_SCRIPT_BYTES = 256 * 1024

/** One script to run in the guest, in order. */
export interface CustomizeScript {
  /** The workspace-relative path ('scripts/setup.sh'), or 'customize' for the inline script. */
  name: string
  content: string
}

export interface CustomizeInputs {
  /** `customize-scripts` as the plan holds it (BuildSource.customizeScripts): paths, in order. */
  paths: string[]
  /** `customize` (BuildSource.customize): the inline script that runs after the files. */
  inline?: string
  /**
   * Where relative paths start and what every script must stay inside: GITHUB_WORKSPACE (else the
   * working directory, where a runner starts the step anyway).
   */
  workspace: string
}

/**
 * Reads `customize-scripts` (in order) and then the inline `customize`, and returns them ready to
 * send. Throws an InputError naming the input and the file for the first that cannot be sent.
 * Reads files only: call it before anything is created in Azure (like the upload's file checks).
 */
export async function readCustomizeScripts(inputs: CustomizeInputs): Promise<CustomizeScript[]> {
  const scripts: CustomizeScript[] = []
  const paths = inputs.paths.map(path => path.trim()).filter(path => path !== '')
  if (paths.length > 0) {
    const workspace = await workspaceRoot(inputs.workspace)
    for (const path of paths) scripts.push(await readWorkspaceScript(workspace, path))
  }
  const inline = inputs.inline ?? ''
  if (inline.trim() !== '') {
    checkScriptSize(Inputs.Customize, Inputs.Customize, inline)
    scripts.push({ name: Inputs.Customize, content: inline })
  }
  return scripts
}

/** Refuses a script over MAX_SCRIPT_BYTES, saying which one and by how much. Pure. */
export function checkScriptSize(input: string, name: string, content: string): void {
  const bytes = Buffer.byteLength(content, 'utf8')
  if (bytes <= MAX_SCRIPT_BYTES) return
  const what = input === name ? 'the inline script' : `'${oneLine(name)}'`
  throw new InputError(
    input,
    `${what} is ${bytes.toLocaleString('en-US')} bytes, ${(bytes - MAX_SCRIPT_BYTES).toLocaleString('en-US')} bytes over the ` +
      `${MAX_SCRIPT_BYTES.toLocaleString('en-US')}-byte (256 KiB) limit of a Run Command script. ` +
      `Split it, or let a smaller script download the rest.`
  )
}

/**
 * Whether `target` (a real path) is `root` or inside it. Pure: both are already resolved.
 * `relative` gives '..' or a path starting '../' for anything outside, and an absolute path when
 * the two are on different Windows drives.
 */
export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target)
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`))
}

async function workspaceRoot(workspace: string): Promise<string> {
  try {
    return await realpath(resolve(workspace))
  } catch {
    throw new InputError(
      Inputs.CustomizeScripts,
      `the workspace directory does not exist, so no script can be read from it (GITHUB_WORKSPACE); check out the repository first.`
    )
  }
}

async function readWorkspaceScript(workspace: string, path: string): Promise<CustomizeScript> {
  const refuse = (why: string): InputError =>
    new InputError(Inputs.CustomizeScripts, `'${oneLine(path)}' ${why}`)
  const absolute = resolve(workspace, path)
  // Outside before it exists or not: a path that leaves the workspace is refused as such.
  if (!isInside(workspace, absolute)) {
    throw refuse('is outside the workspace; list files of the checked-out repository.')
  }
  let real: string
  try {
    real = await realpath(absolute)
  } catch {
    throw refuse(
      'does not exist in the workspace (paths are relative to the repository root); check the name and that the step runs after actions/checkout.'
    )
  }
  if (!isInside(workspace, real)) {
    throw refuse(
      'is a link to a file outside the workspace; the action only sends files of the workspace.'
    )
  }
  const stats = await lstat(real)
  if (!stats.isFile()) {
    throw refuse(
      `is ${stats.isDirectory() ? 'a directory' : 'not a regular file'}; list script files.`
    )
  }
  const content = await readFile(real, 'utf8')
  const name = relative(workspace, absolute).split(sep).join('/')
  if (content.trim() === '') throw refuse('is empty; Azure refuses a Run Command with no script.')
  checkScriptSize(Inputs.CustomizeScripts, name, content)
  return { name, content }
}
