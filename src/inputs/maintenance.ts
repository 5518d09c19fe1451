// The maintenance inputs: the switch (an operation), the page, the addresses that still reach the
// app, and the deploy's maintenance during migrations.

import { isIPv4, isIPv6 } from 'node:net'
import { Input } from '../constants.js'
import type { Operation, Settings } from '../settings.js'
import { workspaceFile } from '../workspace.js'
import { InputError, splitList, type InputReader } from './read.js'

/** The page travels in the step's command (base64): well under a command's 128 KiB. */
export const MAX_PAGE_BYTES = 64 * 1024
const MAX_ADDRESSES = 100

type MaintenanceSettings = Pick<
  Settings,
  'maintenancePage' | 'maintenanceAllow' | 'maintenanceDuringMigrations'
>

export function readMaintenance(read: InputReader): MaintenanceSettings {
  const page = read.line(Input.MaintenancePage, 1024)
  const addresses = splitList(read.raw(Input.MaintenanceAllow), /[\s,]+/)
  if (addresses.length > MAX_ADDRESSES)
    throw new InputError(
      Input.MaintenanceAllow,
      `lists ${addresses.length} addresses; at most ${MAX_ADDRESSES}`
    )
  return {
    ...(page ? { maintenancePage: readPage(read.workspace, page) } : {}),
    maintenanceAllow: [...new Set(addresses.map(allowedAddress))],
    maintenanceDuringMigrations: read.bool(Input.MaintenanceDuringMigrations)
  }
}

/** The maintenance switch, when the input asks for it. */
export function readMaintenanceSwitch(read: InputReader): Operation | undefined {
  const value = read.line(Input.Maintenance, 16).toLowerCase()
  if (value === '') return undefined
  if (value !== 'on' && value !== 'off')
    throw new InputError(
      Input.Maintenance,
      `'${value}' is not one of on (the site answers 503 with the maintenance page) or off (it serves again)`
    )
  return { kind: 'maintenance', on: value === 'on' }
}

function readPage(workspace: string, path: string): string {
  if (path.startsWith('/') || path.split('/').includes('..'))
    throw new InputError(
      Input.MaintenancePage,
      `'${path}' is not a path inside the workspace (a relative path, e.g. .github/maintenance.html)`
    )
  const text = workspaceFile(workspace, path, MAX_PAGE_BYTES)
  if (text === 'missing')
    throw new InputError(
      Input.MaintenancePage,
      `'${path}' is not in the workspace: check it out first`
    )
  if (text === null)
    throw new InputError(
      Input.MaintenancePage,
      `'${path}' may not be read: a regular file of the workspace, no link on the way, at most ${MAX_PAGE_BYTES / 1024} KiB`
    )
  return text
}

/**
 * An address as nginx writes $remote_addr, the name of its file in the allow folder: IPv4 in
 * dotted quads, IPv6 in its shortest form (RFC 5952, as nginx prints it).
 */
export function allowedAddress(text: string): string {
  if (text.includes('/'))
    throw new InputError(
      Input.MaintenanceAllow,
      `'${text}' is a network; allowed: single IPv4 or IPv6 addresses (nginx looks each request's address up as a file, so switching needs no reload)`
    )
  if (isIPv4(text)) return text
  const bare = text.replace(/^\[(.*)\]$/, '$1')
  if (isIPv6(bare) && !bare.includes('%') && !bare.includes('.'))
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1)
  throw new InputError(
    Input.MaintenanceAllow,
    `'${text}' is not an IP address; allowed: IPv4 (203.0.113.7) or IPv6 (2001:db8::7) addresses, separated by commas or spaces`
  )
}
