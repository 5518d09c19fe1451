// The remove input: the project taken off every host (one operation a run: inputs/operations.ts
// refuses it with another, or with rollback).

import { Input } from '../constants.js'
import type { OperationOf } from '../settings.js'
import type { InputReader } from './read.js'

/** The remove operation when `remove: true`, else undefined (another operation, or a deploy). */
export function readRemove(read: InputReader): OperationOf<'remove'> | undefined {
  if (!read.bool(Input.Remove)) return undefined
  return { kind: 'remove', force: read.bool(Input.Force) }
}
