// The operation inputs: what the run does when it is not a deploy (manage: a management command
// in the live release; maintenance: the site's switch; logs: inputs/logs.ts; remove). One
// operation a run: two at once is refused before anything is sent.

import { Input } from '../constants.js'
import { parseCommand } from '../grammar/process-command.js'
import type { Operation } from '../settings.js'
import { readMaintenanceSwitch } from './maintenance.js'
import { readLogs } from './logs.js'
import { InputError, type InputReader } from './read.js'
import { readRemove } from './remove.js'

const MANAGE_HOSTS = ['first', 'all'] as const

/** An operation and the input that asked for it. */
interface Asked {
  input: Input
  operation: Operation
}

/** `modes`: the deploy's own modes, which an operation may not be run with. */
export function readOperation(read: InputReader, modes: { rollback: boolean }): Operation {
  const maintenance = readMaintenanceSwitch(read)
  const removal = readRemove(read)
  const logs = readLogs(read)
  const asked: Asked[] = [
    ...(removal ? [{ input: Input.Remove, operation: removal }] : []),
    ...(logs ? [{ input: Input.Logs, operation: logs }] : []),
    ...readManageInput(read).map((operation) => ({ input: Input.Manage, operation })),
    ...(maintenance ? [{ input: Input.Maintenance, operation: maintenance }] : [])
  ]
  if (asked.length === 0) return { kind: 'deploy' }
  if (asked.length > 1)
    throw new InputError(
      asked[0].input,
      `runs one operation, and ${asked[1].input} is another: run them as two steps`
    )
  if (modes.rollback)
    throw new InputError(
      asked[0].input,
      'runs one operation, and rollback: true is another: run them as two steps'
    )
  return asked[0].operation
}

/** manage: [] when unset, else its one operation. */
function readManageInput(read: InputReader): Operation[] {
  const text = read.raw(Input.Manage)
  const hosts = read.line(Input.ManageHosts)
  if (!(MANAGE_HOSTS as readonly string[]).includes(hosts))
    throw new InputError(
      Input.ManageHosts,
      `'${hosts}' is not one of first (the first host) or all (every host)`
    )
  if (text.trim() === '') return []
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
  return [
    { kind: 'manage', argv, line: text.trim(), hosts: hosts as (typeof MANAGE_HOSTS)[number] }
  ]
}
