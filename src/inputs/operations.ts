// The operation inputs: what the run does when it is not a deploy (manage: a management command
// in the live release; logs: inputs/logs.ts). One operation a run: two at once is refused before
// anything is sent.

import { Input } from '../constants.js'
import { parseCommand } from '../grammar/process-command.js'
import type { Operation } from '../settings.js'
import { readLogs } from './logs.js'
import { InputError, type InputReader } from './read.js'

const MANAGE_HOSTS = ['first', 'all'] as const

/** `modes`: the deploy's own modes, which an operation may not be run with. */
export function readOperation(read: InputReader, modes: { rollback: boolean }): Operation {
  const text = read.raw(Input.Manage)
  const hosts = read.line(Input.ManageHosts)
  if (!(MANAGE_HOSTS as readonly string[]).includes(hosts))
    throw new InputError(
      Input.ManageHosts,
      `'${hosts}' is not one of first (the first host) or all (every host)`
    )
  const logs = readLogs(read)
  if (logs && text.trim() !== '')
    throw new InputError(
      Input.Logs,
      'runs one operation, and manage is another: run them as two steps'
    )
  if (logs && modes.rollback)
    throw new InputError(
      Input.Logs,
      'runs one operation, and rollback: true is another: run them as two steps'
    )
  if (logs) return logs
  if (text.trim() === '') return { kind: 'deploy' }
  if (modes.rollback)
    throw new InputError(
      Input.Manage,
      'runs one operation, and rollback: true is another: run them as two steps'
    )
  const parsed = parseCommand(text.trim())
  if ('problem' in parsed)
    throw new InputError(
      Input.Manage,
      `${parsed.problem} (allowed: a manage.py command and its arguments, quoted as in a shell, e.g. migrate --noinput or createsuperuser --noinput --username admin)`
    )
  // `manage.py migrate` and `python manage.py migrate` say the same as `migrate`.
  const words = /^python[0-9.]*$/.test(parsed.words[0]) ? parsed.words.slice(1) : parsed.words
  const argv = words[0] === 'manage.py' ? words.slice(1) : parsed.words
  if (argv.length === 0)
    throw new InputError(Input.Manage, "names no command after manage.py (e.g. 'migrate')")
  return { kind: 'manage', argv, line: text.trim(), hosts: hosts as (typeof MANAGE_HOSTS)[number] }
}
