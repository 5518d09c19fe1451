// The logs operation's inputs: how many lines (logs) and from when (logs-since). Empty logs: not
// this operation, and then logs-since says nothing, so it is refused rather than ignored.

import { Input } from '../constants.js'
import { parseSince } from '../grammar/journal-since.js'
import type { OperationOf } from '../settings.js'
import { InputError, type InputReader } from './read.js'

/** The most lines a log may be asked for: ten thousand, per log and host. */
export const MAX_LOG_LINES = 10000

/** The logs operation, or undefined when `logs` is empty. */
export function readLogs(read: InputReader): OperationOf<'logs'> | undefined {
  const lines = read.line(Input.Logs)
  const since = read.line(Input.LogsSince)
  if (lines === '') {
    if (since !== '')
      throw new InputError(
        Input.LogsSince,
        `narrows the logs operation, and logs is empty: set logs to a number of lines (e.g. 200)`
      )
    return undefined
  }
  if (!/^[0-9]{1,5}$/.test(lines) || Number(lines) < 1 || Number(lines) > MAX_LOG_LINES)
    throw new InputError(
      Input.Logs,
      `'${lines}' is not a number of lines: a whole number from 1 to ${MAX_LOG_LINES} (e.g. 200)`
    )
  if (since === '') return { kind: 'logs', lines: Number(lines) }
  const parsed = parseSince(since)
  if ('problem' in parsed) throw new InputError(Input.LogsSince, parsed.problem)
  return { kind: 'logs', lines: Number(lines), since: { given: since, journal: parsed.journal } }
}
