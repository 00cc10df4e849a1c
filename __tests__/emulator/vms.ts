/**
 * Virtual machines: GET (+ $expand=instanceView, /instanceView), deallocate, powerOff, start,
 * generalize, runCommand, DELETE. Bodies follow the spec examples VirtualMachine_Get*.json and
 * VirtualMachineRunCommand.json (ComputeRP stable 2025-04-01).
 */
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { fail } from './errors.js'
import { newGuid, resourceId } from './ids.js'
import { startLro } from './lro.js'
import { releaseVmResources } from './vm-create.js'
import { attachedDiskProperties } from './disks.js'
import { tickRunCommands } from './run-commands.js'
import {
  clone,
  deleteResource,
  getResource,
  putResource,
  requireResource,
  requireResourceGroup
} from './store.js'

export type PowerState =
  'starting' | 'running' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated'

export interface VmSeed {
  resourceGroup: string
  name: string
  location: string
  osType: 'Linux' | 'Windows'
  securityType?: 'TrustedLaunch' | 'ConfidentialVM'
  hyperVGeneration?: 'V1' | 'V2'
  /**
   * false: the instance view carries no `hyperVGeneration` (optional in the API spec's
   * VirtualMachineInstanceView; whether Azure drops it, e.g. after deallocation, is unverified:
   * README). The OS disk keeps its generation. Default true.
   */
  instanceViewGeneration?: boolean
  dataDisks?: number
  powerState?: 'running' | 'stopped' | 'deallocated'
  generalized?: boolean
  architecture?: 'x64' | 'Arm64'
  tags?: Record<string, string>
  diskSizeGB?: number
  /** disk SKU of the OS and data disks (default Premium_LRS) */
  diskSku?: string
  /** how the guest OS behaves under Run Command */
  guest?: GuestSeed
}

/** The guest OS, as far as Run Command can tell it apart. */
export interface GuestSeed {
  /**
   * Linux: the agent gives extensions their own cgroup (WALinuxAgent cgroupapi.py
   * distro_supported(): Ubuntu >= 16, CentOS/RHEL 8, RHEL 9, Azure Linux 3), so a job a run
   * command leaves in the background outlives the agent's stop. Default false (Debian, SLES, ...).
   */
  extensionCgroups?: boolean
  /** Linux: `waagent -deprovision+user` fails (the VM then keeps running). */
  deprovisionFails?: boolean
  /**
   * Linux: false for a guest without systemd (no `systemd-run`, no /run/systemd/system): a script's
   * systemd-run fails with the shell's "not found" (exit 127) and nothing is started. Default true.
   */
  systemd?: boolean
  /** false: results never reach Azure (no outbound HTTPS from the VM). Default true. */
  reportsResults?: boolean
  /** Windows: the ImageState Sysprep ends in (default IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE). */
  sysprepImageState?: string
}

const display: Record<PowerState, string> = {
  starting: 'VM starting',
  running: 'VM running',
  stopping: 'VM stopping',
  stopped: 'VM stopped',
  deallocating: 'VM deallocating',
  deallocated: 'VM deallocated'
}

/** Seeds a VM and its managed disks (state Attached, managedBy the VM) as Azure would show them. */
export function addVm(state: State, seed: VmSeed): Resource {
  requireResourceGroup(state, seed.resourceGroup)
  const sub = state.config.subscriptionId
  const id = resourceId(sub, seed.resourceGroup, 'Microsoft.Compute', 'virtualMachines', seed.name)
  const hyperV = seed.hyperVGeneration ?? (seed.securityType ? 'V2' : 'V1')
  const securityProfile = seed.securityType
    ? {
        securityType: seed.securityType,
        uefiSettings: { secureBootEnabled: true, vTpmEnabled: true }
      }
    : undefined
  const mkDisk = (name: string, sizeGB: number, os: boolean): string => {
    const diskId = resourceId(sub, seed.resourceGroup, 'Microsoft.Compute', 'disks', name)
    putResource(state, {
      id: diskId,
      type: 'Microsoft.Compute/disks',
      state: {},
      body: {
        id: diskId,
        name,
        type: 'Microsoft.Compute/disks',
        location: seed.location,
        managedBy: id,
        sku: { name: seed.diskSku ?? 'Premium_LRS' },
        properties: {
          ...(os
            ? {
                osType: seed.osType,
                hyperVGeneration: hyperV,
                supportedCapabilities: { architecture: seed.architecture ?? 'x64' }
              }
            : {}),
          ...(securityProfile && os
            ? { securityProfile: { securityType: seed.securityType } }
            : {}),
          ...attachedDiskProperties(sizeGB, { createOption: os ? 'FromImage' : 'Empty' })
        }
      }
    })
    return diskId
  }
  const osDiskName = `${seed.name}_OsDisk_1_${newGuid().replace(/-/g, '')}`
  const osDiskId = mkDisk(osDiskName, seed.diskSizeGB ?? 30, true)
  const dataDisks = Array.from({ length: seed.dataDisks ?? 0 }, (_, lun) => {
    const name = `${seed.name}_DataDisk_${lun}`
    return {
      lun,
      name,
      createOption: 'Empty',
      caching: 'None',
      diskSizeGB: 4,
      managedDisk: {
        id: mkDisk(name, 4, false),
        storageAccountType: seed.diskSku ?? 'Premium_LRS'
      },
      toBeDetached: false
    }
  })
  const body: Body = {
    id,
    name: seed.name,
    type: 'Microsoft.Compute/virtualMachines',
    location: seed.location,
    tags: seed.tags ?? {},
    properties: {
      vmId: newGuid(),
      hardwareProfile: {
        vmSize: seed.architecture === 'Arm64' ? 'Standard_D2ps_v5' : 'Standard_D2s_v5'
      },
      storageProfile: {
        osDisk: {
          osType: seed.osType,
          name: osDiskName,
          createOption: 'FromImage',
          caching: 'ReadWrite',
          managedDisk: { id: osDiskId, storageAccountType: seed.diskSku ?? 'Premium_LRS' },
          deleteOption: 'Detach',
          diskSizeGB: seed.diskSizeGB ?? 30
        },
        dataDisks
      },
      osProfile: { computerName: seed.name, adminUsername: 'azureuser' },
      ...(securityProfile ? { securityProfile } : {}),
      provisioningState: 'Succeeded',
      timeCreated: new Date().toISOString()
    }
  }
  return putResource(state, {
    id,
    type: 'Microsoft.Compute/virtualMachines',
    body,
    state: {
      powerState: seed.powerState ?? 'running',
      generalized: seed.generalized ?? false,
      hyperVGeneration: hyperV,
      instanceViewGeneration: seed.instanceViewGeneration ?? true,
      architecture: seed.architecture ?? 'x64',
      guestDeprovisioned: false,
      agentRunning: true,
      guest: seed.guest ?? {},
      pollsToStop: state.config.sysprepPollsToStop,
      stopCountdown: -1
    }
  })
}

export function instanceView(vm: Resource): Body {
  const s = vm.state
  const statuses: Body[] = [
    {
      code: `ProvisioningState/${String(vm.body.properties.provisioningState).toLowerCase()}`,
      level: 'Info',
      displayStatus: 'Provisioning succeeded',
      time: new Date().toISOString()
    },
    {
      code: `PowerState/${s.powerState}`,
      level: 'Info',
      displayStatus: display[s.powerState as PowerState]
    }
  ]
  // "OSState/generalized" appears after the Generalize API (azure-docs capture guides).
  if (s.generalized)
    statuses.push({ code: 'OSState/generalized', level: 'Info', displayStatus: 'VM generalized' })
  return {
    computerName: vm.body.name,
    osName:
      vm.body.properties.storageProfile.osDisk.osType === 'Windows'
        ? 'Windows Server 2022 Datacenter'
        : 'ubuntu',
    ...(s.instanceViewGeneration === false ? {} : { hyperVGeneration: s.hyperVGeneration }),
    // A running agent reports Ready (spec example VirtualMachine_Get_InstanceView: code
    // "ProvisioningState/succeeded", displayStatus "Ready", message "GuestAgent is running and
    // accepting new configurations.", time of its last report); a stopped one reports nothing.
    vmAgent: {
      vmAgentVersion: s.agentRunning ? '2.12.0.2' : 'Unknown',
      statuses: s.agentRunning
        ? [
            {
              code: 'ProvisioningState/succeeded',
              level: 'Info',
              displayStatus: 'Ready',
              message: 'GuestAgent is running and accepting new configurations.',
              time: new Date().toISOString()
            }
          ]
        : []
    },
    disks: [],
    statuses
  }
}

/** One tick of the guest's pending run-command work; it takes effect when the count runs out. */
function advanceGuest(vm: Resource): void {
  const work = vm.state.guestWork as { pollsLeft: number } | undefined
  if (!work) return
  if (--work.pollsLeft <= 0) finishGuest(vm)
}

function finishGuest(vm: Resource): void {
  const work = vm.state.guestWork as { effects?: () => void } | undefined
  if (!work) return
  vm.state.guestWork = undefined
  work.effects?.()
}

/** A guest shutdown: each instance view read after it moves the VM towards "stopped". */
function advanceShutdown(vm: Resource): void {
  advanceGuest(vm)
  const s = vm.state
  if (s.stopCountdown < 0) return
  if (s.stopCountdown === 0) {
    s.powerState = 'stopped'
    s.stopCountdown = -1
  } else {
    s.powerState = 'stopping'
    s.stopCountdown--
  }
}

export function getVm(ctx: Ctx, id: string, viewOnly: boolean): Reply {
  const vm = requireResource(ctx.state, id)
  advanceShutdown(vm)
  tickRunCommands(ctx.state, vm)
  if (viewOnly) return { status: 200, body: instanceView(vm) }
  const body = clone(vm.body)
  if (vm.state.powerState === 'deallocated') {
    // A deallocated VM's GET has no disk sizes and no storageAccountType
    // (REC/test_vm_capture_zone_resilient_image.yaml; "by design", Azure/azure-powershell#13213;
    // data disks: ansible/ansible#52181; conformance fixture vm-get-deallocated).
    const sp = body.properties.storageProfile
    for (const d of [sp.osDisk, ...sp.dataDisks]) {
      delete d.diskSizeGB
      delete d.managedDisk.storageAccountType
    }
  }
  if ((ctx.query['$expand'] ?? '').toLowerCase() === 'instanceview')
    body.properties.instanceView = instanceView(vm)
  return { status: 200, body }
}

function notAllowed(op: string, vm: Resource, why: string): never {
  fail(
    409,
    'OperationNotAllowed',
    `Operation '${op}' is not allowed on VM '${vm.body.name}' since the VM ${why}.`
  )
}

export function vmAction(ctx: Ctx, id: string, action: string): Reply {
  const vm = requireResource(ctx.state, id)
  const s = vm.state
  const region = vm.body.location
  switch (action.toLowerCase()) {
    case 'deallocate': {
      const before = s.powerState
      s.powerState = 'deallocating'
      s.stopCountdown = -1
      return startLro(ctx, {
        name: 'virtualMachines/deallocate',
        kind: 'operations',
        region,
        complete: () => {
          s.powerState = 'deallocated'
          return undefined
        },
        fail: () => {
          s.powerState = before
        }
      })
    }
    case 'poweroff': {
      if (s.generalized) notAllowed('powerOff', vm, 'is generalized')
      if (s.powerState === 'deallocated') notAllowed('powerOff', vm, 'is deallocated')
      s.powerState = 'stopping'
      return startLro(ctx, {
        name: 'virtualMachines/powerOff',
        kind: 'operations',
        region,
        complete: () => {
          s.powerState = 'stopped'
          return undefined
        }
      })
    }
    case 'start': {
      // "Operation 'start' is not allowed on VM 'x' since the VM is generalized." (azure-powershell#2818)
      if (s.generalized) notAllowed('start', vm, 'is generalized')
      s.powerState = 'starting'
      return startLro(ctx, {
        name: 'virtualMachines/start',
        kind: 'operations',
        region,
        complete: () => {
          s.powerState = 'running'
          s.agentRunning = true
          return undefined
        }
      })
    }
    case 'generalize': {
      // Synchronous 200 (VirtualMachines_Generalize), also right after powerOff alone
      // (REC/test_vm_generalize.yaml). Refusals at the request, in the wording of Learn's "Common
      // VM error codes" (virtual-machines/error-messages.md): a running VM "… since the VM is
      // running. Please power off explicitly in case you shut down the VM from inside the guest
      // operating system." (its start, for generalize: azure-docs#86809); while a power operation
      // is under way "… since another operation is in progress." (the state it applies to, and
      // the 409 of both, unverified: README).
      if (s.powerState === 'running')
        notAllowed(
          'generalize',
          vm,
          'is running. Please power off explicitly in case you shut down the VM from inside the guest operating system'
        )
      if (s.powerState !== 'deallocated' && s.powerState !== 'stopped')
        fail(
          409,
          'OperationNotAllowed',
          `Operation 'generalize' is not allowed on VM '${vm.body.name}' since another operation is in progress.`
        )
      s.generalized = true
      return { status: 200 }
    }
    case 'runcommand':
      return runCommand(ctx, vm)
    case 'restart': {
      // Restart (VirtualMachines_Restart, 202 + LRO): the guest reboots, which clears
      // /var/run/reboot-required (a tmpfs: Debian policy for /run) and a pending Windows restart.
      // Refused when the VM is not running, as start/powerOff are (wording pattern unverified).
      if (s.generalized) notAllowed('restart', vm, 'is generalized')
      if (s.powerState !== 'running') notAllowed('restart', vm, `is ${s.powerState}`)
      s.powerState = 'starting'
      s.agentRunning = false
      return startLro(ctx, {
        name: 'virtualMachines/restart',
        kind: 'operations',
        region,
        complete: () => {
          s.powerState = 'running'
          s.agentRunning = true
          s.rebootRequired = false
          s.restarts = Number(s.restarts ?? 0) + 1
          return undefined
        },
        fail: () => {
          s.powerState = 'running'
          s.agentRunning = true
        }
      })
    }
    default:
      fail(
        400,
        'InvalidResourceType',
        `The resource type 'virtualMachines/${action}' could not be found in the namespace 'Microsoft.Compute'.`
      )
  }
}

/** The tail Azure keeps of each stream (REC/test_vm_run_command_e2e.yaml: stdout cut at its start). */
const OUTPUT_TAIL = 4096

/**
 * The result of a finished run command, as Azure returns it. Linux (RunCommandLinux extension):
 * one status, "Enable succeeded" even when the script exited non-zero, stdout and stderr inside the
 * message (REC/test_vm_run_command_e2e.yaml; Azure/azure-cli#14425, #25948). Windows: a
 * ComponentStatus pair (Azure/azure-cli#29750, #6898).
 */
export function runCommandResult(osType: string, stdout: string, stderr: string): Body {
  const tail = (t: string): string => (t.length > OUTPUT_TAIL ? t.slice(-OUTPUT_TAIL) : t)
  if (osType === 'Linux') {
    return {
      value: [
        {
          code: 'ProvisioningState/succeeded',
          level: 'Info',
          displayStatus: 'Provisioning succeeded',
          message: `Enable succeeded: \n[stdout]\n${tail(stdout)}\n[stderr]\n${tail(stderr)}`
        }
      ]
    }
  }
  return {
    value: [
      {
        code: 'ComponentStatus/StdOut/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        message: tail(stdout),
        time: null
      },
      {
        code: 'ComponentStatus/StdErr/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        message: tail(stderr),
        time: null
      }
    ]
  }
}

/** What the guest does with a script, decided from its text (see README "Where the emulator reads the action's own scripts"). */
interface GuestRun {
  stdout: string
  stderr: string
  /** the command never reports (the agent is gone before it can, or the script never ends) */
  neverReports?: boolean
  /** applied when the command's work is done (when it reports, or would have) */
  effects?: () => void
}

export const RESEAL = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE'

function linuxGuest(vm: Resource, script: string): GuestRun {
  const s = vm.state
  const g = s.guest as GuestSeed
  const deprovision = /waagent/.test(script) && /-deprovision/.test(script)
  if (!deprovision) return { stdout: '', stderr: '' }
  const shutsDown = /\b(shutdown|poweroff)\b/.test(script)
  // Deprovision's setup() stops the agent service first (WALinuxAgent
  // azurelinuxagent/pa/deprovision/default.py). The agent units set no KillMode
  // (init/*/waagent.service), so systemd kills every process left in the unit's cgroup.
  const stopAgent = (): void => {
    s.agentRunning = false
  }
  const systemdRun = /\bsystemd-run\b/.test(script)
  const background = /\bnohup\b|\bsetsid\b|&\s*$/m.test(script)
  if (systemdRun && g.systemd === false) {
    // The script is not run here (README: the emulator reads keywords): the guest's shell answers
    // for the missing command, with whatever the script prints before it.
    return { stdout: '', stderr: 'sh: 1: systemd-run: not found\n', effects: () => undefined }
  }
  if (systemdRun) {
    // A transient unit has its own cgroup: it survives the agent's stop. systemd-run reports the
    // unit on stderr (systemd src/run/run.c: "Running as unit: %s").
    const named = /--unit[= ](\S+)/.exec(script)?.[1]?.replace(/['"]/g, '')
    const unit = named ? (named.includes('.') ? named : `${named}.service`) : 'run-u42.service'
    return {
      stdout: '',
      stderr: `Running as unit: ${unit}; invocation ID: ${newGuid().replace(/-/g, '')}\n`,
      effects: () => {
        stopAgent()
        if (g.deprovisionFails) return
        s.guestDeprovisioned = true
        if (shutsDown) s.stopCountdown = Math.max(0, s.pollsToStop)
      }
    }
  }
  if (background) {
    // A background job stays in the run command's cgroup: the extension's own slice where the
    // agent sets cgroups up (cgroupapi.py distro_supported(): Ubuntu >= 16, CentOS/RHEL 8,
    // RHEL 9, Azure Linux 3), else the agent's unit, killed with it (WALinuxAgent#3547).
    return {
      stdout: '',
      stderr: '',
      effects: () => {
        stopAgent()
        if (!g.extensionCgroups || g.deprovisionFails) return
        s.guestDeprovisioned = true
        if (shutsDown) s.stopCountdown = Math.max(0, s.pollsToStop)
      }
    }
  }
  // In the foreground the deprovision stops the agent that runs the command: it never reports.
  return { stdout: '', stderr: '', neverReports: true, effects: stopAgent }
}

function windowsGuest(vm: Resource, script: string): GuestRun {
  const s = vm.state
  const g = s.guest as GuestSeed
  const sysprep = /sysprep\.exe/i.test(script) && /\/generalize/i.test(script)
  if (sysprep && /\/shutdown/i.test(script)) {
    // The guest shuts down: the agent never reports, the command stays InProgress, the VM stops.
    return {
      stdout: '',
      stderr: '',
      neverReports: true,
      effects: () => {
        s.imageState = g.sysprepImageState ?? RESEAL
        s.stopCountdown = Math.max(0, s.pollsToStop)
      }
    }
  }
  if (sysprep) {
    // /quit: Sysprep generalizes and leaves Windows running; the script's poll of ImageState
    // (Packer's azure-arm docs) ends when the state is IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE.
    // A Sysprep that never gets there keeps the loop, and so the command, running.
    const final = g.sysprepImageState ?? RESEAL
    s.imageState = final
    return { stdout: '', stderr: '', neverReports: final !== RESEAL }
  }
  if (/Setup\\State/i.test(script) && /ImageState/.test(script)) {
    // Reading the registry value prints it (Get-ItemProperty … ImageState).
    return { stdout: `${String(s.imageState ?? 'IMAGE_STATE_COMPLETE')}\r\n`, stderr: '' }
  }
  return { stdout: '', stderr: '' }
}

function runCommand(ctx: Ctx, vm: Resource): Reply {
  const s = vm.state
  // Code/message from azure-docs#32404 ("The operation requires the VM to be running (or set to run).").
  if (s.powerState !== 'running')
    fail(409, 'OperationNotAllowed', 'The operation requires the VM to be running (or set to run).')
  // One run command at a time, also across a stop or deallocate (azure-docs#10409, #43356;
  // Azure/azure-cli#19137, #32305): 409 Conflict at the request.
  const pending = s.runCommandOp ? ctx.state.operations.get(s.runCommandOp) : undefined
  if (pending?.status === 'InProgress')
    fail(
      409,
      'Conflict',
      'Run command extension execution is in progress. Please wait for completion before invoking a run command.'
    )
  const body = ctx.body ?? {}
  const commandId = String(body.commandId ?? '')
  const script = (Array.isArray(body.script) ? body.script : []).join('\n')
  const osType = vm.body.properties.storageProfile.osDisk.osType
  const expected = osType === 'Windows' ? 'RunPowerShellScript' : 'RunShellScript'
  if (
    commandId.toLowerCase() !== expected.toLowerCase() &&
    /^Run(Shell|PowerShell)Script$/i.test(commandId)
  )
    fail(
      400,
      'InvalidParameter',
      `Command '${commandId}' is not supported for OS type '${osType}'.`,
      'commandId'
    )
  // Test fault (README "Test faults"): extra lines the guest prints, set with setGuestOutput.
  const extra = (s.guestOutput ?? {}) as { stdout?: string; stderr?: string }
  s.runCommands = [...(s.runCommands ?? []), { commandId, script }]
  const g = s.guest as GuestSeed
  // With the agent stopped nothing runs the command; it stays InProgress (row 10 of real-azure.md).
  const run: GuestRun = !s.agentRunning
    ? { stdout: '', stderr: '', neverReports: true }
    : osType === 'Linux'
      ? linuxGuest(vm, script)
      : windowsGuest(vm, script)
  // Without outbound HTTPS "the scripts might run successfully but not return the results"
  // (linux/run-command.md, windows/run-command.md).
  const reports = !run.neverReports && g.reportsResults !== false
  // The guest does its work on its own clock, whether or not anyone polls the command: reads of
  // the run command's status and of the VM's instance view both count as time passing.
  s.guestWork = { pollsLeft: Math.max(1, ctx.state.config.pollsBeforeDone), effects: run.effects }
  const reply = startLro(ctx, {
    name: 'virtualMachines/runCommand',
    kind: 'operations',
    region: vm.body.location,
    neverCompletes: !reports,
    onPoll: () => advanceGuest(vm),
    complete: () => {
      finishGuest(vm)
      return runCommandResult(
        osType,
        run.stdout + (extra.stdout ?? ''),
        run.stderr + (extra.stderr ?? '')
      )
    }
  })
  const op = [...ctx.state.operations.values()].at(-1)
  s.runCommandOp = op?.id
  return reply
}

export function deleteVm(ctx: Ctx, id: string): Reply {
  const vm = getResource(ctx.state, id)
  if (!vm) return { status: 204 }
  vm.body.properties.provisioningState = 'Deleting'
  return startLro(ctx, {
    name: 'virtualMachines/DELETE',
    kind: 'operations',
    region: vm.body.location,
    complete: () => {
      deleteResource(ctx.state, id)
      // deleteOption per disk and NIC (Detach by default: they stay, unattached).
      releaseVmResources(ctx.state, vm)
      return undefined
    },
    fail: () => {
      vm.body.properties.provisioningState = 'Failed'
    }
  })
}
