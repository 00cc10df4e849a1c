/**
 * Managed run commands (`virtualMachines/{vm}/runCommands/{name}`): PUT, GET (+ `$expand=instanceView`),
 * list, DELETE. The guest runs each script as a test registered it (guest-scripts.ts); how Azure
 * reports it follows the Linux handler's source (Azure/run-command-handler-linux @f95dc24, v1.3.28)
 * and Learn "run-command-managed" / "run-command-overview" (README "Managed run commands").
 */
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { fail } from './errors.js'
import { key, parseResourceId } from './ids.js'
import { startLro } from './lro.js'
import {
  children,
  clone,
  deleteResource,
  getResource,
  putResource,
  requireResource
} from './store.js'
import { behaviourFor, DEFAULT_BEHAVIOUR, type ScriptBehaviour } from './guest-scripts.js'

/** "Output and error fields in instanceView is limited to last 4KB" (run-command-managed.md); `maxTailLen = 4 * 1024` (handler internal/cmds/cmds.go). */
const TAIL = 4 * 1024
/** The handler reports partial status every 15 s (`updateStatusInSeconds`): one emulator tick stands for one report. */
export const SECONDS_PER_TICK = 15
/** "The maximum number of allowed Managed Run Commands is currently limited to 25" (run-command-overview.md). */
const MAX_PER_VM = 25

/** The handler's RFC 3339 seconds, as CRP shows them: "2022-05-19T03:06:34+00:00" (REC test_run_command_v2.yaml). */
const handlerTime = (): string => new Date().toISOString().replace(/\.\d+Z$/, '+00:00')

const tail = (s: string): string =>
  Buffer.byteLength(s) > TAIL ? Buffer.from(s).subarray(-TAIL).toString() : s

interface RunState {
  behaviour: Required<Omit<ScriptBehaviour, 'marker'>>
  /** ticks since the PUT */
  ticks: number
  /** ticks at which the script ends (Infinity: never by itself) */
  endTick: number
  /** tick at which the timeout kills it, if any */
  killTick: number
  phase: 'Pending' | 'Running' | 'Done'
  executionState: string
  executionMessage: string
  exitCode: number
  output: string
  error: string
  startTime?: string
  endTime?: string
  /** the handler could not start the script (no source): its configuration error */
  configError?: string
}

/** What the guest does with a script: the test's behaviour, else the action's own reboot check, else the default. */
function behaviourOf(state: State, vm: Resource, script: string): RunState['behaviour'] {
  const polls = Math.max(1, state.config.pollsBeforeDone)
  const b = behaviourFor(state, script)
  if (b) return { ...DEFAULT_BEHAVIOUR, polls, ...b }
  // The action's check of the file a Linux package leaves when it needs a restart (README): read
  // as `test -f /var/run/reboot-required` — exit 0 when the file is there, 1 when not.
  if (
    vm.body.properties.storageProfile.osDisk.osType === 'Linux' &&
    script.includes('/var/run/reboot-required')
  )
    return { ...DEFAULT_BEHAVIOUR, polls, exitCode: vm.state.rebootRequired ? 0 : 1 }
  return { ...DEFAULT_BEHAVIOUR, polls }
}

/** The share of a stream printed after `done` of `total` ticks (all of it at the end). */
function printed(text: string, done: number, total: number): string {
  if (!Number.isFinite(total)) return text.slice(0, Math.floor(text.length * (1 - 1 / (done + 1))))
  return text.slice(0, Math.floor((text.length * Math.min(done, total)) / total))
}

/** One tick of a run command's guest clock (a read of it, of its operation or of the VM). */
function tick(vm: Resource, rc: Resource): void {
  const r = rc.state.run as RunState
  if (r.phase === 'Done') return
  r.ticks++
  const now = handlerTime()
  if (r.phase === 'Pending') {
    // The handler's first report: Running, "Execution in progress", exit code 0 (commandProcessor.go).
    r.phase = 'Running'
    r.executionState = 'Running'
    r.executionMessage = 'Execution in progress'
    r.startTime = now
    rc.state.startedAtTick = r.ticks
  }
  const ran = r.ticks - Number(rc.state.startedAtTick)
  const b = r.behaviour
  if (r.configError) {
    finish(vm, rc, 0, '', '')
    return
  }
  if (ran >= r.killTick) {
    // TimeoutInSeconds: the handler runs the script under a context deadline; the killed process
    // ends by a signal, exit status -1, reported as Failed (exec.go; the Linux handler never sets TimedOut).
    finish(vm, rc, -1, printed(b.stdout, ran, r.endTick), printed(b.stderr, ran, r.endTick))
    return
  }
  if (ran >= r.endTick) {
    finish(vm, rc, b.exitCode, b.stdout, b.stderr)
    return
  }
  // Partial status every report: the last 4 KiB printed so far (cmds.go ticker; "Reports progress
  // and last 4k output during execution", run-command-overview.md).
  if (b.progressive) {
    r.output = tail(printed(b.stdout, ran, r.endTick))
    r.error = tail(printed(b.stderr, ran, r.endTick))
  }
}

function finish(
  vm: Resource,
  rc: Resource,
  exitCode: number,
  stdout: string,
  stderr: string
): void {
  const r = rc.state.run as RunState
  r.phase = 'Done'
  r.exitCode = exitCode
  r.output = tail(stdout)
  r.error = tail(stderr)
  r.endTime = handlerTime()
  if (r.configError) {
    r.executionState = 'Failed'
    r.executionMessage = `Execution failed: ${r.configError}`
    return
  }
  if (exitCode === 0) {
    r.executionState = 'Succeeded'
    r.executionMessage = 'Execution completed'
  } else {
    r.executionState = 'Failed'
    // commandProcessor.go "Execution failed: " + runCmd's "failed to execute command" + exec.go's text.
    r.executionMessage = `Execution failed: failed to execute command: command terminated with exit status=${exitCode}`
  }
  if (r.behaviour.leavesRebootRequired && exitCode !== -1) vm.state.rebootRequired = true
}

/** Ticks every unfinished managed run command of a VM (the guest's clock: reads of the VM count too). */
export function tickRunCommands(state: State, vm: Resource): void {
  for (const rc of children(state, vm.id, 'runCommands')) if (rc.state.run) tick(vm, rc)
}

function view(rc: Resource): Body {
  const r = rc.state.run as RunState
  return {
    executionState: r.executionState,
    executionMessage: r.executionMessage,
    exitCode: r.exitCode,
    output: r.output,
    error: r.error,
    ...(r.startTime ? { startTime: r.startTime } : {}),
    ...(r.endTime ? { endTime: r.endTime } : {})
  }
}

function body(rc: Resource, expand: string | undefined): Body {
  const b = clone(rc.body)
  if ((expand ?? '').toLowerCase() === 'instanceview') b.properties.instanceView = view(rc)
  return b
}

function parentVm(state: State, rcId: string): Resource {
  return requireResource(state, rcId.split('/').slice(0, -2).join('/'))
}

export function putRunCommand(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const vm = parentVm(state, id)
  const name = parseResourceId(id)!.names[1]
  // The VM must be running (azure-docs#32404, action run command; assumed the same here).
  if (vm.state.powerState !== 'running')
    fail(409, 'OperationNotAllowed', 'The operation requires the VM to be running (or set to run).')
  const existing = getResource(state, id)
  const others = children(state, vm.id, 'runCommands').filter(r => key(r.id) !== key(id))
  // MicrosoftDocs/azure-docs#117976 quotes the text; the code and status are unverified.
  if (!existing && others.length >= MAX_PER_VM)
    fail(
      409,
      'OperationNotAllowed',
      `The maximum number of managed Run commands (max=${MAX_PER_VM}, current=${others.length}) has been exceeded. Use fewer Run commands and retry the request. To list Run commands, refer: https://aka.ms/RunCommandManaged#list-all-deployed-runcommand-resources-on-a-vm-1 and then delete a Run command: https://aka.ms/RunCommandManaged#delete-runcommand-resource-from-the-vm-1`
    )
  const req = ctx.body ?? {}
  const props = req.properties ?? {}
  const script = String(props.source?.script ?? '')
  const behaviour = behaviourOf(state, vm, script)
  // No script and no scriptUri: the handler fails at once with this configuration error
  // (REC test_run_command_v2.yaml, `az vm run-command create` without --script; that 2022 handler
  // left the state Running, today's reports Failed: commandProcessor.go).
  const configError =
    !props.source?.script && !props.source?.scriptUri && !props.source?.commandId
      ? "failed to get configuration: invalid configuration: Either 'source.script' or 'source.scriptUri' has to be specified"
      : undefined
  const timeout = Number(props.timeoutInSeconds ?? 0)
  const run: RunState = {
    behaviour,
    ticks: 0,
    endTick: behaviour.polls,
    killTick: timeout > 0 ? Math.max(1, Math.ceil(timeout / SECONDS_PER_TICK)) : Infinity,
    configError,
    phase: 'Pending',
    executionState: 'Pending',
    executionMessage: '',
    exitCode: 0,
    output: '',
    error: ''
  }
  // The stored body never holds protectedParameters or runAsPassword (spec example: the 201/200
  // bodies leave runAsPassword out).
  const rc = putResource(state, {
    id,
    type: 'Microsoft.Compute/virtualMachines/runCommands',
    // A PUT of the same name starts it again: the handler kills the previous process of that
    // name first (`pid.KillPreviousExtension`, cmds.go runCmd).
    state: { run, scriptText: script },
    body: {
      name,
      id,
      type: 'Microsoft.Compute/virtualMachines/runCommands',
      location: req.location ?? vm.body.location,
      ...(req.tags ? { tags: req.tags } : {}),
      properties: {
        source: clone(props.source ?? {}),
        ...(props.parameters ? { parameters: clone(props.parameters) } : {}),
        ...(props.treatFailureAsDeploymentFailure !== undefined
          ? { treatFailureAsDeploymentFailure: props.treatFailureAsDeploymentFailure }
          : {}),
        ...(props.runAsUser ? { runAsUser: props.runAsUser } : {}),
        // Recorded: timeoutInSeconds 0 when not given (REC test_run_command_v2.yaml).
        timeoutInSeconds: props.timeoutInSeconds ?? 0,
        provisioningState: existing ? 'Updating' : 'Creating',
        asyncExecution: props.asyncExecution ?? false,
        ...(props.outputBlobUri ? { outputBlobUri: props.outputBlobUri } : {}),
        ...(props.errorBlobUri ? { errorBlobUri: props.errorBlobUri } : {})
      }
    }
  })
  const asyncExecution = props.asyncExecution === true
  const treatFailure = props.treatFailureAsDeploymentFailure === true
  const op = startLro(ctx, {
    name: 'virtualMachines/runCommands/PUT',
    kind: 'operations',
    region: vm.body.location,
    initialStatus: existing ? 200 : 201,
    resourceId: id,
    initialBody: () => clone(rc.body),
    // The operation follows the handler's extension status: asyncExecution reports success as
    // soon as the script starts (cmds.go "asycExecution is true - report success"); otherwise
    // at the end, an error only when treatFailureAsDeploymentFailure and the exit code is non-zero.
    onPoll: o => {
      tick(vm, rc)
      const r = rc.state.run as RunState
      const started = r.phase !== 'Pending'
      if ((asyncExecution && started) || r.phase === 'Done') {
        o.pollsLeft = 0
        if (r.phase === 'Done' && treatFailure && r.exitCode !== 0)
          o.error = {
            code: 'VMExtensionProvisioningError',
            message: `VM has reported a failure when processing extension '${name}' (publisher 'Microsoft.CPlat.Core' and type '${vm.body.properties.storageProfile.osDisk.osType === 'Windows' ? 'RunCommandHandlerWindows' : 'RunCommandHandlerLinux'}'). Error message: '${r.executionMessage}'. More information on troubleshooting is available at https://aka.ms/VMExtensionRunCommandLinuxTroubleshoot.`
          }
      } else o.pollsLeft = Number.POSITIVE_INFINITY
    },
    complete: () => {
      rc.body.properties.provisioningState = 'Succeeded'
      return clone(rc.body)
    },
    fail: () => {
      rc.body.properties.provisioningState = 'Failed'
    }
  })
  return op
}

export function getRunCommand(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const vm = parentVm(state, id)
  const rc = getResource(state, id)
  if (!rc) {
    const p = parseResourceId(id)!
    fail(
      404,
      'ResourceNotFound',
      `The Resource 'Microsoft.Compute/virtualMachines/${p.names[0]}/runCommands/${p.names[1]}' under resource group '${p.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
    )
  }
  tickRunCommands(state, vm)
  return { status: 200, body: body(rc, ctx.query['$expand']) }
}

export function listRunCommands(ctx: Ctx, vmId: string): Reply {
  const { state } = ctx
  const vm = requireResource(state, vmId)
  tickRunCommands(state, vm)
  return {
    status: 200,
    body: { value: children(state, vm.id, 'runCommands').map(rc => body(rc, ctx.query['$expand'])) }
  }
}

/** DELETE: "If the script execution is still in progress, execution will be terminated" (run-command-managed.md). */
export function deleteRunCommand(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  parentVm(state, id)
  const rc = getResource(state, id)
  if (!rc) return { status: 204 }
  const r = rc.state.run as RunState
  r.phase = 'Done'
  return startLro(ctx, {
    name: 'virtualMachines/runCommands/DELETE',
    kind: 'operations',
    region: rc.body.location,
    complete: () => {
      deleteResource(state, id)
      return undefined
    }
  })
}
