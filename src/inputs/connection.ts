// Connection inputs: the hosts, the SSH user and its credentials, the pinned host keys, the jump
// host and the timeouts.

import { isIP } from 'node:net'
import { Input } from '../constants.js'
import { type HostFingerprint, parseFingerprints, pinsHost } from '../grammar/fingerprint.js'
import { parseKnownHosts } from '../grammar/known-hosts.js'
import { checkPrivateKey } from '../grammar/private-key.js'
import type { HostAddress, JumpHost, Settings } from '../settings.js'
import { HOSTNAME, InputError, type InputReader, parseInteger, splitList } from './read.js'

type ConnectionSettings = Pick<
  Settings,
  | 'hosts'
  | 'username'
  | 'privateKey'
  | 'passphrase'
  | 'password'
  | 'knownHosts'
  | 'knownHostEntries'
  | 'fingerprints'
  | 'hostFingerprints'
  | 'insecureSkipHostKeyCheck'
  | 'jumpHost'
  | 'connectTimeoutMs'
  | 'commandTimeoutMs'
>

const POSIX_USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/

export function readConnection(read: InputReader): ConnectionSettings {
  const hosts = readHosts(read)
  const username = read.line(Input.Username, 32)
  if (username === '') throw new InputError(Input.Username, 'is required: the SSH user name')
  if (!POSIX_USER.test(username)) {
    throw new InputError(Input.Username, 'must be a user name (letters, digits, _ . -)')
  }
  const credentials = readCredentials(read)
  const pins = readHostKeyPins(read)
  const jumpText = read.line(Input.JumpHost)
  const jumpHost = jumpText ? parseJumpHost(jumpText, username) : undefined
  checkFingerprintHosts(pins.hostFingerprints, jumpHost ? [...hosts, jumpHost] : hosts)
  return {
    hosts,
    username,
    ...credentials,
    ...pins,
    jumpHost,
    connectTimeoutMs: read.int(Input.Timeout, 1, 3600) * 1000,
    commandTimeoutMs: read.int(Input.CommandTimeout, 1, 86400) * 1000
  }
}

function readHosts(read: InputReader): HostAddress[] {
  const hostText = read.raw(Input.Host)
  if (hostText.trim() === '') {
    throw new InputError(Input.Host, 'is required: the server to deploy to, as name or name:port')
  }
  const defaultPort = read.int(Input.Port, 1, 65535)
  const hosts = splitList(hostText).map((entry) => parseHostPort(Input.Host, entry, defaultPort))
  if (hosts.length > 100) throw new InputError(Input.Host, 'names more than 100 hosts')
  return hosts
}

function readCredentials(
  read: InputReader
): Pick<Settings, 'privateKey' | 'passphrase' | 'password'> {
  const passphrase = read.raw(Input.Passphrase) || undefined
  const password = read.raw(Input.Password) || undefined
  const checked = checkPrivateKey(read.raw(Input.Key), passphrase)
  if ('problem' in checked) {
    throw new InputError(
      checked.blame === 'passphrase' ? Input.Passphrase : Input.Key,
      checked.problem
    )
  }
  if (!checked.key && !password) {
    throw new InputError(
      Input.Key,
      'is required (or, discouraged, password): the private key text, e.g. ${{ secrets.DEPLOY_KEY }}'
    )
  }
  return { privateKey: checked.key, passphrase, password }
}

type HostKeyPins = Pick<
  Settings,
  | 'knownHosts'
  | 'knownHostEntries'
  | 'fingerprints'
  | 'hostFingerprints'
  | 'insecureSkipHostKeyCheck'
>

function readHostKeyPins(read: InputReader): HostKeyPins {
  const knownHosts = parseKnownHosts(read.raw(Input.KnownHosts))
  if (knownHosts.problem) throw new InputError(Input.KnownHosts, knownHosts.problem)
  const { fingerprints, hostFingerprints } = readFingerprints(read.raw(Input.Fingerprint))
  const insecureSkipHostKeyCheck = read.bool(Input.InsecureSkipHostKeyCheck)
  const pinned = knownHosts.text || fingerprints.length > 0 || hostFingerprints.length > 0
  if (!pinned && !insecureSkipHostKeyCheck) {
    throw new InputError(
      'known-hosts',
      'no host key is pinned: set known-hosts (the lines `ssh-keyscan <host>` prints) or fingerprint ' +
        '(SHA256:... as `ssh-keygen -lf` prints); insecure-skip-host-key-check: true is the only opt-out'
    )
  }
  return {
    knownHosts: knownHosts.text,
    knownHostEntries: knownHosts.entries,
    fingerprints,
    hostFingerprints,
    insecureSkipHostKeyCheck
  }
}

function readFingerprints(text: string): Pick<Settings, 'fingerprints' | 'hostFingerprints'> {
  const parsed = parseFingerprints(text)
  if (parsed.problem) throw new InputError(Input.Fingerprint, parsed.problem)
  const hostFingerprints = parsed.forHost.map(({ host, fingerprint }): HostFingerprint => {
    // Port 0 stands for "none written" (a written port is 1-65535): the host on any port.
    const { name, port } = parseHostPort(Input.Fingerprint, host, 0)
    return port === 0 ? { name, fingerprint } : { name, port, fingerprint }
  })
  return { fingerprints: parsed.bare, hostFingerprints }
}

/** A fingerprint written for a host pins that host only: one that is not connected to is a typo. */
function checkFingerprintHosts(pins: readonly HostFingerprint[], targets: HostAddress[]): void {
  for (const pin of pins) {
    if (targets.some((t) => pinsHost(pin, t.name, t.port))) continue
    const v6 = pin.name.includes(':')
    const written =
      pin.port === undefined
        ? pin.name
        : v6
          ? `[${pin.name}]:${pin.port}`
          : `${pin.name}:${pin.port}`
    throw new InputError(
      Input.Fingerprint,
      `'${written}=${pin.fingerprint}' names no host of host or jump-host: a host=SHA256:... fingerprint pins that host only`
    )
  }
}

function parseHostName(name: string, value: string): string {
  if ((isIP(value) && !value.includes('%')) || HOSTNAME.test(value)) return value
  throw new InputError(name, `'${value}' is not a host name or IP address`)
}

function parseHostPort(name: string, entry: string, defaultPort: number): HostAddress {
  if (/\s/.test(entry)) throw new InputError(name, `'${entry}' contains white space`)
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d+))?$/.exec(entry)
  if (bracketed) {
    if (isIP(bracketed[1]) !== 6) throw new InputError(name, `'${entry}' is not an IPv6 address`)
    return {
      name: bracketed[1],
      port: bracketed[2] ? parseInteger(name, bracketed[2], 1, 65535) : defaultPort
    }
  }
  if (isIP(entry) === 6 && !entry.includes('%')) return { name: entry, port: defaultPort }
  const withPort = /^([^:]+):(\d+)$/.exec(entry)
  if (withPort)
    return {
      name: parseHostName(name, withPort[1]),
      port: parseInteger(name, withPort[2], 1, 65535)
    }
  if (entry.includes(':')) throw new InputError(name, `'${entry}' must be name or name:port`)
  return { name: parseHostName(name, entry), port: defaultPort }
}

function parseJumpHost(text: string, defaultUser: string): JumpHost {
  const at = text.lastIndexOf('@')
  const user = at >= 0 ? text.slice(0, at) : defaultUser
  if (!POSIX_USER.test(user)) throw new InputError(Input.JumpHost, `'${user}' is not a user name`)
  const host = parseHostPort(Input.JumpHost, text.slice(at + 1), 22)
  return { ...host, username: user }
}
