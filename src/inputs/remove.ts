// The remove input: the project taken off every host. One operation a run: with manage or
// rollback it is refused, naming both, before anything is sent.

import { Input } from '../constants.js'
import type { OperationOf } from '../settings.js'
import { InputError, type InputReader } from './read.js'

/** The remove operation when `remove: true`, else undefined (another operation, or a deploy). */
export function readRemove(
  read: InputReader,
  modes: { rollback: boolean }
): OperationOf<'remove'> | undefined {
  if (!read.bool(Input.Remove)) return undefined
  if (read.raw(Input.Manage).trim() !== '')
    throw new InputError(
      Input.Remove,
      'runs one operation, and manage is another: run them as two steps'
    )
  if (modes.rollback)
    throw new InputError(
      Input.Remove,
      'runs one operation, and rollback: true is another: run them as two steps'
    )
  return { kind: 'remove', force: read.bool(Input.Force) }
}
