/**
 * What a Run Command (`virtualMachines/runCommand`) returned, read the way Azure returns it. Pure.
 *
 * - Linux (RunShellScript, the RunCommandLinux extension): ONE status, `ProvisioningState/succeeded`,
 *   whose message is "Enable succeeded: \n[stdout]\n…\n[stderr]\n…", each stream cut to its last
 *   ~4 KB (Azure/azure-cli recording test_vm_run_command_e2e.yaml). The status says succeeded even
 *   when the script exited non-zero (Azure/azure-cli#14425, #25948), so success is read from the
 *   output, never from the code.
 * - Windows (RunPowerShellScript): `ComponentStatus/StdOut/succeeded` and
 *   `ComponentStatus/StdErr/succeeded`, each message one stream (Azure/azure-cli#29750, #6898).
 */
import type { InstanceViewStatus } from '@azure/arm-compute'

export interface GuestOutput {
  stdout: string
  stderr: string
}

const LINUX_STDOUT = '[stdout]\n'
const LINUX_STDERR = '\n[stderr]\n'

export function parseRunCommandOutput(statuses: InstanceViewStatus[] | undefined): GuestOutput {
  const all = statuses ?? []
  const stdout = all.find(s => /^ComponentStatus\/StdOut\//i.test(s.code ?? ''))
  const stderr = all.find(s => /^ComponentStatus\/StdErr\//i.test(s.code ?? ''))
  if (stdout || stderr) return { stdout: stdout?.message ?? '', stderr: stderr?.message ?? '' }
  const message = all.find(s => (s.message ?? '').includes(LINUX_STDOUT))?.message
  if (message === undefined) {
    // Neither shape: keep whatever Azure said, as stderr, so it is shown rather than lost.
    return { stdout: '', stderr: all.map(s => s.message ?? '').join('\n') }
  }
  const out = message.indexOf(LINUX_STDOUT) + LINUX_STDOUT.length
  const err = message.indexOf(LINUX_STDERR, out)
  return err < 0
    ? { stdout: message.slice(out), stderr: '' }
    : { stdout: message.slice(out, err), stderr: message.slice(err + LINUX_STDERR.length) }
}
