/**
 * Reads a step's output the way the GitHub runner does, to tell which lines it would execute as
 * workflow commands. Written from the runner's source (actions/runner, not copied):
 * - src/Runner.Worker/ActionCommandManager.cs (commit 02523b9a60a24fe13364739abefe2255c5a6b758):
 *   TryProcessCommand tries TryParseV2, then the legacy TryParse; `stop-commands` pauses
 *   everything until a line whose command name equals the token (OrdinalIgnoreCase); the
 *   registered commands are the extensions listed in REGISTERED below.
 * - src/Runner.Common/ActionCommand.cs (commit 079cdb1d05fe0ec50f8c51de5a4fa51d0eb189b0):
 *   TryParseV2 = TrimStart(), StartsWith("::"), name up to the next "::" or the first space,
 *   properties split on ',' then '=', data after the second "::"; TryParse = IndexOf("##[")
 *   anywhere in the line, name up to ']' or a space, properties split on ';', data after ']'.
 *
 * Where the runner's behaviour depends on the machine, this parser errs towards "it is a command":
 * the runner's StartsWith(string)/IndexOf(string) are culture-sensitive and under ICU skip ignorable
 * characters (controls, format characters, default-ignorables), so those are removed from a line
 * before matching, and `notice` counts even where the server has not enabled it. A test that finds
 * no command here found none the runner could execute.
 *
 * The test support never imports src/.
 */

/** The command extensions the runner registers (ActionCommandManager.cs), besides stop-commands. */
export const REGISTERED = [
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo'
] as const

const STOP = 'stop-commands'

export interface WorkflowCommand {
  /** Lower-cased command name (the runner matches names case-insensitively). */
  command: string
  properties: Record<string, string>
  data: string
  /** The line as printed. */
  line: string
  /** 1-based line number in the parsed text. */
  lineNumber: number
}

/** Controls (tab aside), format characters and default-ignorable code points: ICU may skip them. */
const IGNORABLE = /(?!\t)[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/gu
/** .NET char.IsWhiteSpace, which String.TrimStart() drops: JS \s plus NEL (U+0085). */
const LEADING_SPACE = /^[\s\u0085]+/

function unescape(text: string, pairs: Array<[string, string]>): string {
  let out = text
  for (const [token, replacement] of pairs) out = out.split(replacement).join(token)
  return out
}
// The runner's mapping tables, in the runner's order.
const DATA: Array<[string, string]> = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  ['%', '%25']
]
const PROPERTY: Array<[string, string]> = [
  ['\r', '%0D'],
  ['\n', '%0A'],
  [':', '%3A'],
  [',', '%2C'],
  ['%', '%25']
]
const LEGACY: Array<[string, string]> = [
  [';', '%3B'],
  ['\r', '%0D'],
  ['\n', '%0A'],
  [']', '%5D'],
  ['%', '%25']
]

interface Parsed {
  name: string
  properties: Record<string, string>
  data: string
}

function parseV2(raw: string, known: Set<string>): Parsed | undefined {
  const message = raw.replace(LEADING_SPACE, '')
  if (!message.startsWith('::')) return undefined
  const end = message.indexOf('::', 2)
  if (end < 0) return undefined
  const info = message.slice(2, end)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!known.has(name.toLowerCase())) return undefined
  const properties: Record<string, string> = {}
  if (space > 0) {
    for (const pair of info
      .slice(space + 1)
      .trim()
      .split(',')
      .filter(p => p !== '')) {
      const eq = pair.indexOf('=')
      // Split(count: 2, RemoveEmptyEntries): "=x" and "x=" give one part and are dropped.
      if (eq > 0 && eq < pair.length - 1) {
        properties[pair.slice(0, eq).toLowerCase()] = unescape(pair.slice(eq + 1), PROPERTY)
      }
    }
  }
  return { name: name.toLowerCase(), properties, data: unescape(message.slice(end + 2), DATA) }
}

function parseLegacy(message: string, known: Set<string>): Parsed | undefined {
  const prefix = message.indexOf('##[')
  if (prefix < 0) return undefined
  const rb = message.indexOf(']', prefix)
  if (rb < 0) return undefined
  const info = message.slice(prefix + 3, rb)
  const space = info.indexOf(' ')
  const name = space < 0 ? info : info.slice(0, space)
  if (!known.has(name.toLowerCase())) return undefined
  const properties: Record<string, string> = {}
  if (space > 0) {
    for (const pair of info
      .slice(space + 1)
      .split(';')
      .filter(p => p !== '')) {
      const eq = pair.indexOf('=')
      if (eq > 0 && eq < pair.length - 1) {
        properties[pair.slice(0, eq).toLowerCase()] = unescape(pair.slice(eq + 1), LEGACY)
      }
    }
  }
  return { name: name.toLowerCase(), properties, data: unescape(message.slice(rb + 1), LEGACY) }
}

/**
 * Every line of `output` the runner would process as a command, in order, including the
 * stop-commands lines and the lines that resume. Lines are split as .NET's ReadLine does
 * (CR, LF, CRLF).
 */
export function runnerCommands(output: string): WorkflowCommand[] {
  const known = new Set<string>([STOP, ...REGISTERED])
  let stopToken: string | undefined
  const found: WorkflowCommand[] = []
  const lines = output.split(/\r\n|\r|\n/)
  lines.forEach((line, i) => {
    if (line === '') return
    const visible = line.replace(IGNORABLE, '')
    const parsed = parseV2(visible, known) ?? parseLegacy(visible, known)
    if (!parsed) return
    const command: WorkflowCommand = {
      command: parsed.name,
      properties: parsed.properties,
      data: parsed.data,
      line,
      lineNumber: i + 1
    }
    if (stopToken !== undefined) {
      // Paused: only the token resumes (an empty token never does).
      if (stopToken !== '' && parsed.name === stopToken.toLowerCase()) {
        known.delete(stopToken.toLowerCase())
        stopToken = undefined
        found.push(command)
      }
      return
    }
    if (parsed.name === STOP) {
      stopToken = parsed.data
      known.add(stopToken.toLowerCase())
    }
    found.push(command)
  })
  return found
}

/** What a step's output did to the job, by the runner's rules. */
export interface CommandEffects {
  /** Every executed command except stop-commands and its resume lines. */
  commands: WorkflowCommand[]
  annotations: Array<{ level: 'error' | 'warning' | 'notice'; message: string }>
  /** `set-output` (honoured by runners that still accept it from stdout). */
  outputs: Record<string, string>
  /** `save-state`: becomes STATE_* of the post step unless the state file sets the same name. */
  state: Record<string, string>
  masks: string[]
  /** Whether the output ends inside a stop-commands block that was never resumed. */
  stillStopped: boolean
}

export function commandEffects(output: string): CommandEffects {
  const all = runnerCommands(output)
  const effects: CommandEffects = {
    commands: [],
    annotations: [],
    outputs: {},
    state: {},
    masks: [],
    stillStopped: false
  }
  let open: string | undefined
  for (const c of all) {
    if (c.command === STOP) {
      open = c.data.toLowerCase()
      continue
    }
    if (open !== undefined && c.command === open) {
      open = undefined
      continue
    }
    effects.commands.push(c)
    if (c.command === 'error' || c.command === 'warning' || c.command === 'notice') {
      effects.annotations.push({ level: c.command, message: c.data })
    } else if (c.command === 'set-output' && c.properties.name) {
      effects.outputs[c.properties.name] = c.data
    } else if (c.command === 'save-state' && c.properties.name) {
      effects.state[c.properties.name] = c.data
    } else if (c.command === 'add-mask') {
      effects.masks.push(c.data)
    }
  }
  effects.stillStopped = open !== undefined
  return effects
}
