/**
 * Virtual machines: GET (+ $expand=instanceView, /instanceView), deallocate, powerOff, start,
 * generalize, runCommand, DELETE. Bodies follow the spec examples VirtualMachine_Get*.json and
 * VirtualMachineRunCommand.json (ComputeRP stable 2025-04-01).
 */
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { fail } from './errors.js'
import { newGuid, resourceId } from './ids.js'
import { startLro } from './lro.js'
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
  dataDisks?: number
  powerState?: 'running' | 'stopped' | 'deallocated'
  generalized?: boolean
  architecture?: 'x64' | 'Arm64'
  tags?: Record<string, string>
  diskSizeGB?: number
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
        sku: { name: 'Premium_LRS', tier: 'Premium' },
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
          creationData: { createOption: os ? 'FromImage' : 'Empty' },
          diskSizeGB: sizeGB,
          diskSizeBytes: sizeGB * 1024 ** 3,
          uniqueId: newGuid(),
          provisioningState: 'Succeeded',
          diskState: 'Attached',
          timeCreated: new Date().toISOString()
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
      managedDisk: { id: mkDisk(name, 4, false), storageAccountType: 'Premium_LRS' },
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
          managedDisk: { id: osDiskId, storageAccountType: 'Premium_LRS' },
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
      architecture: seed.architecture ?? 'x64',
      guestDeprovisioned: false,
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
    hyperVGeneration: s.hyperVGeneration,
    vmAgent: { vmAgentVersion: s.guestDeprovisioned ? 'Unknown' : '2.12.0.2', statuses: [] },
    disks: [],
    statuses
  }
}

/** Sysprep /shutdown: each instance view read after the command moves the guest towards "stopped". */
function advanceShutdown(vm: Resource): void {
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
  if (viewOnly) return { status: 200, body: instanceView(vm) }
  const body = clone(vm.body)
  // A deallocated VM's model has no osDisk.diskSizeGB and no managedDisk.storageAccountType
  // (test_vm_capture_zone_resilient_image, fixture vm-get-deallocated).
  if (vm.state.powerState === 'deallocated') {
    const os = body.properties.storageProfile.osDisk
    delete os.diskSizeGB
    delete os.managedDisk.storageAccountType
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
          s.guestDeprovisioned = false
          return undefined
        }
      })
    }
    case 'generalize': {
      // Synchronous, 200 only (VirtualMachines_Generalize). Wording after azure-docs#86809
      // ("Operation 'generalize' is not allowed on VM 'myVM' since the VM is running ...").
      if (s.powerState !== 'deallocated') notAllowed('generalize', vm, `is ${s.powerState}`)
      s.generalized = true
      return { status: 200 }
    }
    case 'runcommand':
      return runCommand(ctx, vm)
    default:
      fail(
        400,
        'InvalidResourceType',
        `The resource type 'virtualMachines/${action}' could not be found in the namespace 'Microsoft.Compute'.`
      )
  }
}

function runCommand(ctx: Ctx, vm: Resource): Reply {
  const s = vm.state
  // Code/message from azure-docs#32404 ("The operation requires the VM to be running (or set to run).").
  if (s.powerState !== 'running')
    fail(409, 'OperationNotAllowed', 'The operation requires the VM to be running (or set to run).')
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
  // Linux: one ProvisioningState/succeeded status whose message holds [stdout] and [stderr]
  // (test_vm_run_command_e2e, fixture vm-runcommand-linux); Windows: a StdOut and a StdErr status
  // (azure-cli#29750, not recorded, fixture vm-runcommand-windows).
  const result = (stdout: string, stderr = ''): Body =>
    osType === 'Linux'
      ? linuxResult(stdout + (extra.stdout ?? ''), stderr + (extra.stderr ?? ''))
      : windowsResult(stdout + (extra.stdout ?? ''), stderr + (extra.stderr ?? ''))
  const linuxResult = (stdout: string, stderr: string): Body => ({
    value: [
      {
        code: 'ProvisioningState/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        message: `Enable succeeded: \n[stdout]\n${stdout}\n[stderr]\n${stderr}`
      }
    ]
  })
  const windowsResult = (stdout: string, stderr: string): Body => ({
    value: [
      {
        code: 'ComponentStatus/StdOut/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        message: stdout
      },
      {
        code: 'ComponentStatus/StdErr/succeeded',
        level: 'Info',
        displayStatus: 'Provisioning succeeded',
        message: stderr
      }
    ]
  })
  s.runCommands = [...(s.runCommands ?? []), { commandId, script }]
  const sysprep = osType === 'Windows' && /sysprep/i.test(script) && /\/generalize/i.test(script)
  if (sysprep && /\/shutdown/i.test(script)) {
    // The guest shuts down: the agent never reports, the command stays InProgress, the VM stops.
    s.guestGeneralized = true
    s.stopCountdown = Math.max(0, ctx.state.config.sysprepPollsToStop)
    s.powerState = 'stopping'
    return startLro(ctx, {
      name: 'virtualMachines/runCommand',
      kind: 'operations',
      region: vm.body.location,
      neverCompletes: true,
      complete: () => undefined
    })
  }
  const deprovision = osType === 'Linux' && /waagent/.test(script) && /-deprovision/.test(script)
  // WALinuxAgent#3547: deprovisioning stops the agent that runs the command, so a foreground
  // deprovision never reports. Started in the background (nohup … &), the command returns, and a
  // shutdown at its end stops the VM like Sysprep's /shutdown does.
  const background = /nohup|&\s*$/m.test(script)
  if (deprovision && !background) {
    s.guestDeprovisioned = true
    return startLro(ctx, {
      name: 'virtualMachines/runCommand',
      kind: 'operations',
      region: vm.body.location,
      neverCompletes: true,
      complete: () => undefined
    })
  }
  if (deprovision && /shutdown|poweroff/.test(script)) {
    s.stopCountdown = Math.max(0, ctx.state.config.sysprepPollsToStop)
  }
  return startLro(ctx, {
    name: 'virtualMachines/runCommand',
    kind: 'operations',
    region: vm.body.location,
    complete: () => {
      if (deprovision) {
        s.guestDeprovisioned = true
        if (s.stopCountdown >= 0) s.powerState = 'stopping'
        return result(
          'WARNING! The waagent service will be stopped.\nWARNING! Cached DHCP leases will be deleted.\nWARNING! root password will be disabled. You will not be able to login as root.\nWARNING! /etc/resolv.conf will be deleted.\nWARNING! azureuser account and entire home directory will be deleted.\n'
        )
      }
      if (sysprep) s.guestGeneralized = true
      return result('')
    }
  })
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
      // deleteOption Detach: the disks stay, now Unattached.
      const sp = vm.body.properties.storageProfile
      for (const d of [sp.osDisk, ...sp.dataDisks]) {
        const disk = getResource(ctx.state, d.managedDisk.id)
        if (disk) {
          delete disk.body.managedBy
          disk.body.properties.diskState = 'Unattached'
        }
      }
      return undefined
    },
    fail: () => {
      vm.body.properties.provisioningState = 'Failed'
    }
  })
}
