import { createHash } from 'node:crypto'
import {
  entriesFor,
  type KnownHostEntry,
  lookupName,
  parseKnownHosts
} from '../grammar/known-hosts.js'

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

export interface HostKeyPins {
  /** known_hosts entries as the input was parsed into (Settings.knownHostEntries), or text */
  knownHosts: string | readonly KnownHostEntry[]
  fingerprints: string[]
}

export type HostKeyVerdict =
  { accepted: true; offered: OfferedKey } | { accepted: false; offered: OfferedKey; reason: string }

/** The known_hosts lines that name this host on this port. */
function pinsFor(
  knownHosts: HostKeyPins['knownHosts'],
  host: string,
  port: number
): KnownHostEntry[] {
  const entries = typeof knownHosts === 'string' ? parseKnownHosts(knownHosts).entries : knownHosts
  return entriesFor(entries, host, port)
}

/**
 * The key types known-hosts pins for a host, in the order given. As ssh does, the connection asks
 * for these first: a server with ed25519, ecdsa and rsa keys would otherwise offer ed25519 and
 * fail against a pinned rsa line.
 */
export function pinnedKeyTypes(
  knownHosts: HostKeyPins['knownHosts'],
  host: string,
  port: number
): string[] {
  const types = pinsFor(knownHosts, host, port)
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
  const entries = pinsFor(pins.knownHosts, host, port)
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
