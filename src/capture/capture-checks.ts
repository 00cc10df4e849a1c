/**
 * What Azure would refuse after a long wait, refused up front with what to do instead. Pure: takes
 * the VM's facts and the plan.
 */
import type { CaptureSource, Plan } from '../plan.js'
import type { VmFacts } from './vm-facts.js'

export function captureProblems(plan: Plan, source: CaptureSource, vm: VmFacts): string[] {
  const problems: string[] = []
  if (plan.managedImage && vm.securityType !== 'Standard') {
    problems.push(
      `VM '${vm.name}' uses security type ${vm.securityType}, and Azure cannot make a managed image of it (OperationNotAllowed). ` +
        `Publish it to an Azure Compute Gallery instead: set 'gallery' and 'gallery-image' and remove 'image-name'.`
    )
  }
  if (plan.managedImage && vm.architecture === 'Arm64') {
    // Azure: OperationNotAllowed "Creating an image with sourceVirtualMachine source that has CPU
    // Architecture 'Arm64' is not supported." (hashicorp/packer#12188); ARM64 images are "only
    // supported through Azure Compute Gallery" (image-version.md).
    problems.push(
      `VM '${vm.name}' is Arm64, and Azure cannot make a managed image of an Arm64 VM (OperationNotAllowed). ` +
        `Publish it to an Azure Compute Gallery instead: set 'gallery' and 'gallery-image' (an Arm64 definition) and remove 'image-name'.`
    )
  }
  if (plan.location && plan.location !== vm.location) {
    problems.push(
      `'location' is ${plan.location} but VM '${vm.name}' is in ${vm.location}: an image is created in its source's region. ` +
        `Remove 'location', or replicate a gallery version there with 'target-regions'.`
    )
  }
  if (source.deprovision === true && !vm.generalized && vm.powerState !== 'running') {
    problems.push(
      `'deprovision: true' runs the OS's generalization inside VM '${vm.name}' through Run Command, which needs the VM running, but it is ${vm.powerState}. ` +
        `Start the VM first, or set 'deprovision: false' if it was generalized inside already.`
    )
  }
  if (
    source.deprovision === 'auto' &&
    source.generalize &&
    !vm.generalized &&
    (vm.powerState === 'starting' || vm.powerState === 'unknown')
  ) {
    problems.push(
      `VM '${vm.name}' is ${vm.powerState}, so 'deprovision: auto' cannot tell whether to generalize the OS inside it. ` +
        `Wait until it is running (to deprovision it) or stopped (already generalized inside), or set 'deprovision' to 'true' or 'false'.`
    )
  }
  if (!source.generalize && vm.generalized) {
    problems.push(
      `VM '${vm.name}' is already generalized, so it cannot be captured as specialized ('generalize: false'). Set 'generalize: true'.`
    )
  }
  return problems
}

export interface DeprovisionDecision {
  /** Whether the OS's generalization runs inside the VM (Run Command) before it is generalized. */
  run: boolean
  /** Said as a warning: the run goes on, trusting that the guest was generalized already. */
  warning?: string
}

/**
 * What `deprovision` means for this VM. `auto` (the default) deprovisions a running VM that is to
 * be generalized; a VM that is already stopped cannot run a command, so the run goes on and says
 * that the guest must have been generalized already (Microsoft: "deprovision or generalize the VM
 * before capturing"; an image that was not boots into OOBE or OSProvisioningTimedOut).
 */
export function decideDeprovision(source: CaptureSource, vm: VmFacts): DeprovisionDecision {
  // Generalized in Azure already (an earlier attempt, or by hand): the guest step is behind us.
  if (vm.generalized || !source.generalize) return { run: false }
  if (source.deprovision !== 'auto') return { run: source.deprovision }
  if (vm.powerState === 'running') return { run: true }
  const tool = vm.osType === 'Windows' ? 'Sysprep /generalize' : 'waagent -deprovision+user'
  return {
    run: false,
    warning:
      `VM '${vm.name}' is ${vm.powerState}, so 'deprovision: auto' does not run ${tool} in it (Run Command needs a running VM): ` +
      `the OS inside must have been generalized already, or VMs made from this image will not provision (OSProvisioningTimedOut). ` +
      `Start the VM to have it deprovisioned, or set 'deprovision: false' to say it was.`
  }
}
