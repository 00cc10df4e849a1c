/**
 * A tiny in-memory Azure for one capture into a managed image, with the SDK's method shapes (the
 * calls preflight, permissions, execute and cleanup make), recording each write in order. Faults
 * are hooks: `onImagePut` may throw, or wait for the abort signal as a long operation does.
 */
import { RestError } from '@azure/core-rest-pipeline'
import type { Image, VirtualMachine } from '@azure/arm-compute'
import type { AzureClients } from '../../src/azure/clients.js'
import { knownCloud } from '../../src/azure/clouds.js'

export const SUB = '11111111-2222-3333-4444-555555555555'
export const RG = 'images-rg'
export const VM_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/vm1`
const OS_DISK_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/disks/vm1-os`

const notFound = (what: string): RestError =>
  new RestError(`${what} not found`, { statusCode: 404, code: 'ResourceNotFound' })

type Poller<T> = {
  operationState: undefined
  pollUntilDone(options?: { abortSignal?: AbortSignal }): Promise<T>
}
const poller = <T>(run: (signal: AbortSignal | undefined) => T | Promise<T>): Poller<T> => ({
  operationState: undefined,
  pollUntilDone: async options => run(options?.abortSignal)
})

/** Resolves never; rejects with the signal's reason once it is aborted (a long operation). */
export function untilAborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

export class FakeCompute {
  writes: string[] = []
  images = new Map<string, Image>()
  generalized = false
  /** Called with the image body when it is PUT; may throw or wait. */
  onImagePut: (body: Image, signal: AbortSignal | undefined) => Promise<void> = async () =>
    undefined

  clients(): AzureClients {
    const vm = (): VirtualMachine => ({
      id: VM_ID,
      location: 'eastus',
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: {
        osDisk: {
          osType: 'Linux',
          name: 'vm1-os',
          createOption: 'FromImage',
          managedDisk: { id: OS_DISK_ID }
        },
        dataDisks: []
      },
      instanceView: {
        hyperVGeneration: 'V1',
        statuses: [
          { code: this.generalized ? 'PowerState/deallocated' : 'PowerState/running' },
          ...(this.generalized ? [{ code: 'OSState/generalized' }] : [])
        ]
      }
    })
    const imageId = (name: string): string =>
      `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/images/${name}`
    const everything = [{ actions: ['*'], notActions: [], dataActions: ['*'], notDataActions: [] }]
    async function* list<T>(items: T[]): AsyncIterable<T> {
      yield* items
    }
    const fake = {
      cloud: knownCloud('AzureCloud'),
      credential: { getToken: async () => null },
      subscriptionId: SUB,
      resources: {
        resourceGroups: {
          get: async (name: string) => {
            if (name !== RG) throw notFound(`Resource group '${name}'`)
            return { name, location: 'eastus' }
          }
        }
      },
      authorization: {
        permissions: {
          listForResourceGroup: () => list(everything),
          listForResource: () => list(everything)
        }
      },
      compute: {
        virtualMachines: {
          get: async () => vm(),
          instanceView: async () => vm().instanceView,
          deallocate: () =>
            poller(() => {
              this.writes.push('deallocate vm1')
            }),
          generalize: async () => {
            this.writes.push('generalize vm1')
            this.generalized = true
          }
        },
        disks: {
          get: async () => ({ supportedCapabilities: { architecture: 'x64' } })
        },
        images: {
          get: async (_rg: string, name: string) => {
            const image = this.images.get(name)
            if (!image) throw notFound(`Image '${name}'`)
            return image
          },
          createOrUpdate: (_rg: string, name: string, body: Image) =>
            poller(async signal => {
              this.writes.push(`put image ${name}`)
              this.images.set(name, {
                ...body,
                id: imageId(name),
                provisioningState: 'Creating'
              })
              await this.onImagePut(body, signal)
              const done = { ...body, id: imageId(name), provisioningState: 'Succeeded' }
              this.images.set(name, done)
              return done
            }),
          delete: (_rg: string, name: string) =>
            poller(() => {
              this.writes.push(`delete image ${name}`)
              this.images.delete(name)
            })
        }
      }
    }
    // The SDK clients' surface is far larger; only these calls are made in a capture.
    return fake as unknown as AzureClients
  }
}
