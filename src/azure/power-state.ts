/**
 * A VM's power state, read from its instance view's `PowerState/<state>` status (REST
 * specification, VirtualMachine_Get_InstanceView: `PowerState/running`, `PowerState/deallocated`…).
 */
export type PowerState =
  'running' | 'starting' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown'

export function powerStateOf(statuses: Array<{ code?: string }> | undefined): PowerState {
  const code = statuses?.find(s => s.code?.toLowerCase().startsWith('powerstate/'))?.code
  const state = code?.split('/')[1]?.toLowerCase()
  const known: PowerState[] = [
    'running',
    'starting',
    'stopping',
    'stopped',
    'deallocating',
    'deallocated'
  ]
  return (known as string[]).includes(state ?? '') ? (state as PowerState) : 'unknown'
}
