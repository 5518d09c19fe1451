// Mode inputs: what kind of run this is (a dry run, a rollback) and how it shares the hosts.

import { Input } from '../constants.js'
import type { Settings } from '../settings.js'
import type { InputReader } from './read.js'

type ModeSettings = Pick<Settings, 'dryRun' | 'rollback' | 'maxParallel' | 'lockWaitMs'>

/** `hostCount`: no more hosts at a time than there are. */
export function readModes(read: InputReader, hostCount: number): ModeSettings {
  return {
    dryRun: read.bool(Input.DryRun),
    rollback: read.bool(Input.Rollback),
    maxParallel: Math.min(read.int(Input.MaxParallel, 1, 100), hostCount),
    lockWaitMs: read.int(Input.LockWait, 0, 86400) * 1000
  }
}
