// Several hosts: batches of max-parallel, each batch done (healthy) before the next starts, the
// first failure stops the rollout. Migrations run on the first host before any other host's.

import type { HostAddress } from './settings.js'

/** Shared by every host of one run. */
export interface Rollout {
  /** the run's release id (fixed by the first host that takes its lock) */
  nextRelease: () => string
  /** the first host's Django steps are done: resolves, or rejects when that host failed first */
  firstMigration: Promise<void>
  /** called by the first host when its Django steps ended (error: they did not) */
  migrated(error?: Error): void
  isFirst(host: HostAddress): boolean
}

export function createRollout(hosts: HostAddress[], nextRelease: () => string): Rollout {
  let settle: (error?: Error) => void = () => {}
  const firstMigration = new Promise<void>((resolve, reject) => {
    settle = (error) => (error ? reject(error) : resolve())
  })
  // Hosts that never wait must not leave an unhandled rejection behind.
  firstMigration.catch(() => {})
  return {
    nextRelease,
    firstMigration,
    migrated: (error) => settle(error),
    isFirst: (host) => host === hosts[0]
  }
}

/** Runs `deployOne` over the hosts in batches; stops after the first batch with a failure. */
export async function rollOut<R extends { status: string }>(
  hosts: HostAddress[],
  maxParallel: number,
  deployOne: (host: HostAddress) => Promise<R>,
  notReached: (host: HostAddress) => R,
  afterBatch: (done: R[]) => Promise<void> = async () => {}
): Promise<R[]> {
  const reports: R[] = []
  const pending = [...hosts]
  while (pending.length > 0) {
    const batch = pending.splice(0, maxParallel)
    reports.push(...(await Promise.all(batch.map(deployOne))))
    await afterBatch(reports)
    if (reports.some((r) => r.status !== 'success')) break
  }
  return reports.concat(pending.map(notReached))
}
