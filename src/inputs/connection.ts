// Connection inputs: the hosts, the SSH user and its credentials, the pinned host keys, the jump
// host and the timeouts.

import { isIP } from 'node:net'
import { Input } from '../constants.js'
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
  return {
    hosts,
    username,
    ...credentials,
    ...pins,
    jumpHost: jumpText ? parseJumpHost(jumpText, username) : undefined,
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

function readHostKeyPins(
  read: InputReader
): Pick<Settings, 'knownHosts' | 'knownHostEntries' | 'fingerprints' | 'insecureSkipHostKeyCheck'> {
  const knownHosts = parseKnownHosts(read.raw(Input.KnownHosts))
  if (knownHosts.problem) throw new InputError(Input.KnownHosts, knownHosts.problem)
  const fingerprints = readFingerprints(read.raw(Input.Fingerprint))
  const insecureSkipHostKeyCheck = read.bool(Input.InsecureSkipHostKeyCheck)
  if (!knownHosts.text && fingerprints.length === 0 && !insecureSkipHostKeyCheck) {
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
    insecureSkipHostKeyCheck
  }
}

function readFingerprints(text: string): string[] {
  const tokens = text.split(/[\s,]+/).filter((t) => t !== '')
  const fingerprints: string[] = []
  for (const token of tokens) {
    if (/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(token)) fingerprints.push(token.replace(/=$/, ''))
    // ssh-keygen -lf's other columns: bits, the host ([host]:2222, ::1) or comment, (TYPE)
    else if (!/^(?:SHA\d*|MD5):/i.test(token)) continue
    else {
      throw new InputError(
        Input.Fingerprint,
        `'${token}' is not a SHA256:... fingerprint as ssh-keygen -lf prints`
      )
    }
  }
  if (text.trim() !== '' && fingerprints.length === 0) {
    throw new InputError(
      Input.Fingerprint,
      'holds no SHA256:... fingerprint (as `ssh-keygen -lf` prints)'
    )
  }
  return fingerprints
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
