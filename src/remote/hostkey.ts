import { createHash, createHmac } from 'node:crypto'

/** The key a server offered, as a user compares it with `ssh-keygen -lf`. */
export interface OfferedKey {
  type: string
  fingerprint: string
  base64: string
}

export function describeKey(blob: Buffer): OfferedKey {
  const length = blob.length >= 4 ? blob.readUInt32BE(0) : 0
  const type = blob.subarray(4, 4 + length).toString('latin1') || 'unknown'
  const fingerprint =
    'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')
  return { type, fingerprint, base64: blob.toString('base64') }
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
function lookupName(host: string, port: number): string {
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

export interface HostKeyPins {
  knownHosts: string
  fingerprints: string[]
}

export type HostKeyVerdict =
  { accepted: true; offered: OfferedKey } | { accepted: false; offered: OfferedKey; reason: string }

/** The known_hosts lines that name this host on this port. */
function entriesFor(knownHosts: string, host: string, port: number) {
  return knownHosts.split('\n').flatMap((line) => {
    const fields = line.trim().split(/\s+/)
    const marker = fields[0]?.startsWith('@') ? (fields.shift() ?? '') : ''
    const [hosts, type, base64] = fields
    return hosts && type && base64 && hostFieldMatches(hosts, host, port)
      ? [{ marker, type, base64 }]
      : []
  })
}

/**
 * The key types known-hosts pins for a host, in the order given. As ssh does, the connection asks
 * for these first: a server with ed25519, ecdsa and rsa keys would otherwise offer ed25519 and
 * fail against a pinned rsa line.
 */
export function pinnedKeyTypes(knownHosts: string, host: string, port: number): string[] {
  const types = entriesFor(knownHosts, host, port)
    .filter((e) => e.marker === '')
    .map((e) => e.type)
  return [...new Set(types)]
}

/** Checks an offered host key against the pinned known_hosts lines and fingerprints. */
export function verifyHostKey(
  blob: Buffer,
  host: string,
  port: number,
  pins: HostKeyPins
): HostKeyVerdict {
  const offered = describeKey(blob)
  const entries = entriesFor(pins.knownHosts, host, port)
  // A revoked key stays refused wherever else it is pinned, as in ssh (whatever the line order).
  if (entries.some((e) => e.marker === '@revoked' && e.base64 === offered.base64)) {
    return { accepted: false, offered, reason: `the key is marked @revoked in known-hosts` }
  }
  if (pins.fingerprints.includes(offered.fingerprint)) return { accepted: true, offered }
  let pinnedForHost = false
  for (const { marker, type, base64 } of entries) {
    if (marker !== '') continue
    pinnedForHost = true
    if (type === offered.type && base64 === offered.base64) return { accepted: true, offered }
  }
  const reason = pinnedForHost
    ? `it does not match the key pinned in known-hosts for ${lookupName(host, port)} (the host key changed, or this is not the host you meant)`
    : pins.fingerprints.length > 0
      ? `it matches none of the pinned fingerprints, and known-hosts has no line for ${lookupName(host, port)}`
      : `known-hosts has no line for ${lookupName(host, port)}`
  return { accepted: false, offered, reason }
}
