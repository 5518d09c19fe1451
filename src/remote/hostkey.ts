import { createHash } from 'node:crypto'
import { fingerprintsFor, type HostFingerprint } from '../grammar/fingerprint.js'
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
  /** bare fingerprints: for the hosts known-hosts does not name */
  fingerprints: string[]
  /** fingerprints written for one host (Settings.hostFingerprints) */
  hostFingerprints?: readonly HostFingerprint[]
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

/**
 * Checks an offered host key against the pins of this host. The most specific pin decides, so
 * that no other host (a fleet member, the jump host) can offer its own key in this one's name:
 * the known_hosts lines that name the host, else the fingerprints written for it, else the bare
 * fingerprints.
 */
export function verifyHostKey(
  blob: Buffer,
  host: string,
  port: number,
  pins: HostKeyPins
): HostKeyVerdict {
  const offered = describeKey(blob)
  const entries = pinsFor(pins.knownHosts, host, port)
  const refuse = (reason: string): HostKeyVerdict => ({ accepted: false, offered, reason })
  // A revoked key stays refused wherever else it is pinned, as in ssh (whatever the line order).
  if (entries.some((e) => e.marker === '@revoked' && e.base64 === offered.base64)) {
    return refuse(`the key is marked @revoked in known-hosts`)
  }
  const name = lookupName(host, port)
  const lines = entries.filter((e) => e.marker === '')
  const own = fingerprintsFor(pins.hostFingerprints ?? [], host, port)
  if (lines.length > 0) {
    if (lines.some((e) => e.type === offered.type && e.base64 === offered.base64)) {
      return { accepted: true, offered }
    }
    const pinnedElsewhere = [...own, ...pins.fingerprints].includes(offered.fingerprint)
    return refuse(
      `it does not match the key pinned in known-hosts for ${name} (the host key changed, or this is not the host you meant)` +
        (pinnedElsewhere ? '; fingerprint pins it, but a known-hosts line for a host wins' : '')
    )
  }
  if (own.length > 0) {
    return own.includes(offered.fingerprint)
      ? { accepted: true, offered }
      : refuse(`it matches none of the fingerprints written for ${name} in fingerprint`)
  }
  if (pins.fingerprints.includes(offered.fingerprint)) return { accepted: true, offered }
  const elsewhere = otherPorts(pins.knownHosts, host, port)
  const given = elsewhere.length
    ? ` (it has ${elsewhere.map((p) => lookupName(host, p)).join(', ')}: a key given for ${host} on port ${elsewhere.join(', ')}, and the server listens on ${port}; \`ssh-keyscan -p ${port} ${host}\` prints the line for this port)`
    : ''
  return refuse(
    pins.fingerprints.length > 0
      ? `it matches none of the pinned fingerprints, and known-hosts has no line for ${name}${given}`
      : `known-hosts has no line for ${name}${given}`
  )
}

/** The other ports known-hosts names this host on (port 22 is a bare name; others `[host]:port`). */
function otherPorts(knownHosts: HostKeyPins['knownHosts'], host: string, port: number): number[] {
  const entries = typeof knownHosts === 'string' ? parseKnownHosts(knownHosts).entries : knownHosts
  const written = entries.flatMap((e) =>
    e.hosts.split(',').flatMap((field) => {
      const m = /^\[([^\]]+)\]:(\d+)$/.exec(field)
      return m && m[1].toLowerCase() === host.toLowerCase() ? [Number(m[2])] : []
    })
  )
  const ports = [...(entriesFor(entries, host, 22).length > 0 ? [22] : []), ...written]
  return [...new Set(ports)].filter((p) => p !== port)
}
