// The known_hosts format, as ssh-keyscan prints it and ssh reads it. The text is split and
// tokenised here only: the known-hosts input is validated with it, and the host key check
// (remote/hostkey.ts) looks the host up in the same entries.

import { createHmac } from 'node:crypto'

export type KnownHostMarker = '' | '@revoked' | '@cert-authority'

/** One key line: `[marker] hosts key-type base64-key [comment]`. */
export interface KnownHostEntry {
  marker: KnownHostMarker
  /** comma-separated patterns (* ? and !negation), or one name hashed as |1|salt|hash */
  hosts: string
  type: string
  base64: string
  /** the line's number in the text as pasted, from 1 */
  line: number
}

export interface KnownHosts {
  /** the key lines, trimmed, without comments and blank lines */
  text: string
  entries: KnownHostEntry[]
  /** what is wrong with the first line that is not a key line; undefined when none is */
  problem?: string
}

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
  'ssh-dss'
])

function isMarker(word: string): word is KnownHostMarker {
  return word === '' || word === '@revoked' || word === '@cert-authority'
}

export function parseKnownHosts(text: string): KnownHosts {
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    // Numbered before comments and blank lines are left out: the message names the line as pasted.
    .map((l, index) => ({ entry: l.trim(), line: index + 1 }))
    .filter(({ entry }) => entry !== '' && !entry.startsWith('#'))
  const entries: KnownHostEntry[] = []
  let problem: string | undefined
  for (const { entry, line } of lines) {
    const fields = entry.split(/\s+/)
    const marker = fields[0].startsWith('@') ? (fields.shift() ?? '') : ''
    const [hosts, type, base64] = fields
    if (!type || !KEY_TYPES.has(type) || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) {
      problem ??= `line ${line} is not a known_hosts line ("host key-type base64-key", as ssh-keyscan prints)`
      continue
    }
    // ssh skips a line with a marker it does not know: it pins nothing, and revokes nothing.
    if (isMarker(marker)) entries.push({ marker, hosts, type, base64, line })
  }
  return { text: lines.map(({ entry }) => entry).join('\n'), entries, problem }
}

/** Matches one known_hosts host pattern (wildcards * and ?) against a name. */
function matchesPattern(pattern: string, name: string): boolean {
  const regex = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
    'i'
  )
  return regex.test(name)
}

/** The names a known_hosts line may use for a host: `name` on port 22, `[name]:port` otherwise. */
export function lookupName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function hostFieldMatches(field: string, host: string, port: number): boolean {
  const name = lookupName(host, port)
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|')
    if (!salt || !hash) return false
    // ssh hashes the name in lower case, as it looks it up.
    const digest = createHmac('sha1', Buffer.from(salt, 'base64'))
      .update(name.toLowerCase())
      .digest('base64')
    return digest === hash
  }
  let matched = false
  for (const pattern of field.split(',')) {
    if (pattern.startsWith('!')) {
      if (matchesPattern(pattern.slice(1), name)) return false
    } else if (matchesPattern(pattern, name)) matched = true
  }
  return matched
}

/** The entries that name this host on this port. */
export function entriesFor(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number
): KnownHostEntry[] {
  return entries.filter((entry) => hostFieldMatches(entry.hosts, host, port))
}
