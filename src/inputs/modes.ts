// Mode inputs: what kind of run this is (a dry run, a rollback) and how it shares the hosts.

import { Input } from '../constants.js'
import type { Settings } from '../settings.js'
import { InputError, type InputReader } from './read.js'

type ModeSettings = Pick<
  Settings,
  'dryRun' | 'rollback' | 'maxParallel' | 'lockWaitMs' | 'backup' | 'restoreDatabase' | 'force'
>

/** `hostCount`: no more hosts at a time than there are. */
export function readModes(read: InputReader, hostCount: number): ModeSettings {
  const rollback = read.bool(Input.Rollback)
  const restoreDatabase = read.bool(Input.RestoreDatabase)
  // A restore goes with the code it belongs to: the release a rollback switches back to.
  if (restoreDatabase && !rollback)
    throw new InputError(
      Input.RestoreDatabase,
      'true is allowed only with rollback: true (it restores the backup taken before the migrations of the release rolled back from)'
    )
  return {
    dryRun: read.bool(Input.DryRun),
    rollback,
    maxParallel: Math.min(read.int(Input.MaxParallel, 1, 100), hostCount),
    lockWaitMs: read.int(Input.LockWait, 0, 86400) * 1000,
    backup: read.bool(Input.Backup),
    restoreDatabase,
    force: read.bool(Input.Force)
  }
}
