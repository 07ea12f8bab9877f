import type { ProvisionerClient, ProvisionerSchemas } from '@cps/openapi';

/** What discovery needs from the local provisioner, with a short timeout: PEP answers must be quick. */
export function provisionerView(client: ProvisionerClient, timeoutMs = 3_000) {
  return {
    async capacity(): Promise<ProvisionerSchemas['Capacity']> {
      const { data, error, response } = await client.GET('/capacity', { signal: AbortSignal.timeout(timeoutMs) });
      if (!data) throw new Error(`provisioner GET /capacity answered ${response.status}: ${JSON.stringify(error)}`);
      return data;
    },
    async guests(): Promise<Set<string>> {
      const { data, error, response } = await client.GET('/vms', { signal: AbortSignal.timeout(timeoutMs) });
      if (!data) throw new Error(`provisioner GET /vms answered ${response.status}: ${JSON.stringify(error)}`);
      return new Set(data.items.map((v) => v.taskId));
    },
  };
}
