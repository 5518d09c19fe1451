// Background processes and schedules: the long-running commands (a Celery worker and beat, a
// management command that never ends) and the periodic ones, each a systemd unit of its own.

import { parseDocument } from 'yaml'
import { Input } from '../constants.js'
import { isCeleryBeat, parseCommand } from '../grammar/process-command.js'
import { PROCESS_SETTLE_SECONDS } from '../server/processes.js'
import type { HostAddress, Settings } from '../settings.js'
import { InputError, type InputReader } from './read.js'

type ProcessSettings = Pick<
  Settings,
  'processes' | 'schedules' | 'processStopTimeoutSec' | 'singletonHost'
>

/** A name becomes part of a unit's name: `<project>-<name>.service`. */
const PROCESS_NAME = /^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$/
/** What a systemd calendar expression is written with; systemd-analyze calendar judges the rest. */
const CALENDAR = /^[A-Za-z0-9*,./:~ +-]{1,100}$/

export function readProcesses(
  read: InputReader,
  given: { hosts: HostAddress[]; commandTimeoutMs: number }
): ProcessSettings {
  const processes = mapping(read, Input.Processes).map(([name, value]) => {
    const spec = entry(Input.Processes, name, value, ['run', 'once'])
    const command = words(Input.Processes, name, spec.run)
    return { name, command, once: once(Input.Processes, name, spec.once, isCeleryBeat(command)) }
  })
  const schedules = mapping(read, Input.Schedules).map(([name, value]) => {
    if (typeof value === 'string')
      throw new InputError(
        Input.Schedules,
        `'${name}' must be a mapping like { on: daily, run: python manage.py clearsessions }`
      )
    const spec = entry(Input.Schedules, name, value, ['on', 'run', 'once'])
    if (typeof spec.on !== 'string' || !CALENDAR.test(spec.on.trim()))
      throw new InputError(
        Input.Schedules,
        `'${name}': on must be a systemd calendar expression (daily, hourly, Mon *-*-* 03:00, *:0/15), not ${JSON.stringify(spec.on ?? null)}`
      )
    return {
      name,
      calendar: spec.on.trim(),
      command: words(Input.Schedules, name, spec.run),
      once: once(Input.Schedules, name, spec.once, true)
    }
  })
  const both = processes.find((p) => schedules.some((t) => t.name === p.name))
  if (both)
    throw new InputError(
      Input.Schedules,
      `'${both.name}' is also a process: each name is one unit, so give them different names`
    )
  const stop = read.int(Input.ProcessStopTimeout, 1, 86400)
  // The restart step waits for the old processes to stop, then for the new ones to stay up.
  const any = processes.length > 0 || schedules.length > 0
  if (any && stop + PROCESS_SETTLE_SECONDS + 30 > given.commandTimeoutMs / 1000)
    throw new InputError(
      Input.ProcessStopTimeout,
      `${stop} s does not fit in command-timeout (${given.commandTimeoutMs / 1000} s): the restart of the processes waits that long for them to stop; raise command-timeout or lower this`
    )
  return {
    processes,
    schedules,
    processStopTimeoutSec: stop,
    singletonHost: singletonHost(read, given.hosts)
  }
}

function mapping(read: InputReader, input: Input): Array<[string, unknown]> {
  const text = read.raw(input)
  if (text.trim() === '') return []
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false })
  if (doc.errors.length > 0)
    throw new InputError(input, `is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`)
  const value: unknown = doc.toJS()
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InputError(
      input,
      'must be a YAML mapping of name to command, one per line (worker: celery -A mysite worker)'
    )
  const entries = Object.entries(value as Record<string, unknown>)
  if (entries.length > 50) throw new InputError(input, `has ${entries.length} entries; at most 50`)
  for (const [name] of entries)
    if (!PROCESS_NAME.test(name))
      throw new InputError(
        input,
        `'${name}' is not a name: lower-case letters, digits, - and _, at most 40, starting and ending with a letter or digit`
      )
  return entries
}

function entry(
  input: Input,
  name: string,
  value: unknown,
  keys: string[]
): Record<string, unknown> {
  if (typeof value === 'string') return { run: value }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InputError(input, `'${name}' must be a command or a mapping of ${keys.join(', ')}`)
  const unknown = Object.keys(value).find((k) => !keys.includes(k))
  if (unknown !== undefined)
    throw new InputError(input, `'${name}' has '${unknown}'; allowed: ${keys.join(', ')}`)
  return value as Record<string, unknown>
}

function words(input: Input, name: string, run: unknown): string[] {
  if (typeof run !== 'string')
    throw new InputError(
      input,
      `'${name}': run must be a command line, not ${JSON.stringify(run ?? null)}`
    )
  const parsed = parseCommand(run)
  if ('problem' in parsed) throw new InputError(input, `'${name}': the command ${parsed.problem}`)
  return parsed.words
}

function once(input: Input, name: string, value: unknown, byDefault: boolean): boolean {
  if (value === undefined) return byDefault
  if (typeof value !== 'boolean')
    throw new InputError(input, `'${name}': once must be true or false`)
  return value
}

/** The host that runs what must run once in a fleet: one of `host`, by default the first. */
function singletonHost(read: InputReader, hosts: HostAddress[]): string | undefined {
  const value = read.line(Input.SingletonHost)
  if (value === '') return undefined
  const host = hosts.find((h) => value === h.name || value === `${h.name}:${h.port}`)
  if (!host)
    throw new InputError(
      Input.SingletonHost,
      `'${value}' is not one of the hosts in host (${hosts.map((h) => h.name).join(', ')})`
    )
  return `${host.name}:${host.port}`
}
