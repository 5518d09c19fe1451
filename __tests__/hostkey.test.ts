// Host key pinning against real keys made by ssh-keygen: what a user pastes from `ssh-keyscan`
// or `ssh-keygen -lf` must pin exactly the key it names, and nothing else.

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HostFingerprint } from '../src/grammar/fingerprint.js'
import { describeKey, verifyHostKey, type HostKeyPins } from '../src/remote/hostkey.js'

interface HostKey {
  type: string
  base64: string
  blob: Buffer
  /** the SHA256:... fingerprint as `ssh-keygen -lf` prints it */
  fingerprint: string
}

let dir: string
const keys: Record<'ed25519' | 'ecdsa' | 'rsa', HostKey> = {} as never
let other: HostKey

function makeKey(name: string, type: string, bits?: string): HostKey {
  const file = join(dir, name)
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    ...(bits ? ['-b', bits] : []),
    '-N',
    '',
    '-C',
    name,
    '-f',
    file
  ])
  const [keyType, base64] = readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/)
  const listed = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' })
  return {
    type: keyType,
    base64,
    blob: Buffer.from(base64, 'base64'),
    fingerprint: listed.split(/\s+/)[1]
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hostkey-'))
  keys.ed25519 = makeKey('ed25519', 'ed25519')
  keys.ecdsa = makeKey('ecdsa', 'ecdsa')
  keys.rsa = makeKey('rsa', 'rsa', '2048')
  other = makeKey('other', 'ed25519')
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const pins = (knownHosts: string, fingerprints: string[] = []): HostKeyPins => ({
  knownHosts,
  fingerprints
})
const line = (hosts: string, key: HostKey) => `${hosts} ${key.type} ${key.base64}`

/** known_hosts text hashed by `ssh-keygen -H`, as `ssh-keyscan -H` prints it. */
function hashed(text: string): string {
  const file = join(dir, `known_hosts_${Math.random().toString(36).slice(2)}`)
  writeFileSync(file, `${text}\n`)
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' })
  return readFileSync(file, 'utf8').trim()
}

describe('describeKey', () => {
  test.each(['ed25519', 'ecdsa', 'rsa'] as const)(
    '%s: the fingerprint ssh-keygen -lf prints',
    (name) => {
      const key = keys[name]
      expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
      expect(describeKey(key.blob)).toEqual({
        type: key.type,
        fingerprint: key.fingerprint,
        base64: key.base64
      })
    }
  )

  test('the types are the ones known_hosts names', () => {
    expect([keys.ed25519.type, keys.ecdsa.type, keys.rsa.type]).toEqual([
      'ssh-ed25519',
      'ecdsa-sha2-nistp256',
      'ssh-rsa'
    ])
  })

  test('a blob too short to name a type is unknown, not a crash', () => {
    expect(describeKey(Buffer.from([1, 2])).type).toBe('unknown')
  })
})

describe('verifyHostKey accepts the pinned key', () => {
  test.each(['ed25519', 'ecdsa', 'rsa'] as const)('%s: a plain known_hosts line', (name) => {
    const key = keys[name]
    const verdict = verifyHostKey(
      key.blob,
      'app1.example.com',
      22,
      pins(line('app1.example.com', key))
    )
    expect(verdict).toEqual({ accepted: true, offered: describeKey(key.blob) })
  })

  test('a line among others (ssh-keyscan prints one per key type)', () => {
    const text = [
      line('app1.example.com', keys.rsa),
      line('app1.example.com', keys.ecdsa),
      line('app1.example.com', keys.ed25519)
    ].join('\n')
    for (const key of Object.values(keys))
      expect(verifyHostKey(key.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
  })

  test('[host]:2222 pins the host on port 2222, and not on 22', () => {
    const text = line('[app1.example.com]:2222', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 2222, pins(text)).accepted).toBe(
      true
    )
    const on22 = verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text))
    expect(on22).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('known-hosts has no line for app1.example.com')
    })
  })

  test('a plain name does not pin the host on another port', () => {
    const verdict = verifyHostKey(
      keys.ed25519.blob,
      'app1.example.com',
      2222,
      pins(line('app1.example.com', keys.ed25519))
    )
    expect(verdict).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('[app1.example.com]:2222')
    })
  })

  test('a key given for the host on another port: the reason names both ports and the scan', () => {
    const on2850 = verifyHostKey(
      keys.ed25519.blob,
      'app1.example.com',
      2850,
      pins(line('app1.example.com', keys.ed25519))
    )
    expect(on2850).toMatchObject({
      accepted: false,
      reason:
        'known-hosts has no line for [app1.example.com]:2850 (it has app1.example.com: a key given ' +
        'for app1.example.com on port 22, and the server listens on 2850; ' +
        '`ssh-keyscan -p 2850 app1.example.com` prints the line for this port)'
    })
    const hashedOn22 = verifyHostKey(
      keys.ed25519.blob,
      'app1.example.com',
      2850,
      pins(hashed(line('app1.example.com', keys.ed25519)))
    )
    expect(hashedOn22).toMatchObject({ reason: expect.stringContaining('on port 22') })
  })

  test('an IPv6 address, plain and [addr]:port', () => {
    expect(verifyHostKey(keys.ecdsa.blob, '::1', 22, pins(line('::1', keys.ecdsa))).accepted).toBe(
      true
    )
    expect(
      verifyHostKey(keys.ecdsa.blob, '::1', 2222, pins(line('[::1]:2222', keys.ecdsa))).accepted
    ).toBe(true)
  })

  test('a hashed entry made by ssh-keygen -H', () => {
    const text = hashed(line('app1.example.com', keys.ed25519))
    expect(text).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, 'app2.example.com', 22, pins(text)).accepted).toBe(
      false
    )
  })

  test('a hashed [host]:port entry, and a host name written in capitals (ssh hashes it in lower case)', () => {
    const text = hashed(line('[app1.example.com]:2222', keys.rsa))
    expect(verifyHostKey(keys.rsa.blob, 'app1.example.com', 2222, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.rsa.blob, 'App1.Example.COM', 2222, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.rsa.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(false)
  })

  test('a matching fingerprint, with no known_hosts line at all', () => {
    const verdict = verifyHostKey(
      keys.rsa.blob,
      'app1.example.com',
      22,
      pins('', [keys.rsa.fingerprint])
    )
    expect(verdict.accepted).toBe(true)
  })

  test('a fingerprint pins the key for every host and port', () => {
    const p = pins('', [keys.ecdsa.fingerprint, keys.ed25519.fingerprint])
    expect(verifyHostKey(keys.ed25519.blob, 'bastion.example.com', 2200, p).accepted).toBe(true)
  })

  test('a comma list of names', () => {
    const text = line('app1.example.com,192.0.2.10,[app1.example.com]:2222', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, '192.0.2.10', 22, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 2222, pins(text)).accepted).toBe(
      true
    )
    expect(verifyHostKey(keys.ed25519.blob, 'app2.example.com', 22, pins(text)).accepted).toBe(
      false
    )
  })

  test('a wildcard *.example.com (and ? for one character)', () => {
    const text = line('*.example.com', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, 'example.com', 22, pins(text)).accepted).toBe(false)
    expect(
      verifyHostKey(keys.ed25519.blob, 'app1.example.com.evil.test', 22, pins(text)).accepted
    ).toBe(false)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.org', 22, pins(text)).accepted).toBe(
      false
    )
    const single = line('app?.example.com', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app7.example.com', 22, pins(single)).accepted).toBe(
      true
    )
    expect(verifyHostKey(keys.ed25519.blob, 'app10.example.com', 22, pins(single)).accepted).toBe(
      false
    )
  })

  test('a dot in a pattern is a dot, not any character', () => {
    const text = line('app1.example.com', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app1xexample.com', 22, pins(text)).accepted).toBe(
      false
    )
  })

  test('host names match without regard to case, as in ssh', () => {
    const text = line('App1.Example.com', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
  })
})

describe('verifyHostKey refuses', () => {
  test('a different key for the same host: the reason says it does not match', () => {
    const verdict = verifyHostKey(
      other.blob,
      'app1.example.com',
      22,
      pins(line('app1.example.com', keys.ed25519))
    )
    expect(verdict.accepted).toBe(false)
    if (verdict.accepted) return
    expect(verdict.reason).toContain(
      'does not match the key pinned in known-hosts for app1.example.com'
    )
    expect(verdict.offered.fingerprint).toBe(other.fingerprint)
  })

  test('a key of another type than the pinned one', () => {
    const verdict = verifyHostKey(
      keys.rsa.blob,
      'app1.example.com',
      22,
      pins(line('app1.example.com', keys.ed25519))
    )
    expect(verdict).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('does not match')
    })
  })

  test('a host that has no line: the reason names `known-hosts has no line`', () => {
    const verdict = verifyHostKey(
      keys.ed25519.blob,
      'app2.example.com',
      22,
      pins(line('app1.example.com', keys.ed25519))
    )
    expect(verdict).toMatchObject({
      accepted: false,
      reason: 'known-hosts has no line for app2.example.com'
    })
  })

  test('a fingerprint that does not match, and no line: the reason says both', () => {
    const verdict = verifyHostKey(
      keys.ed25519.blob,
      'app1.example.com',
      22,
      pins('', [other.fingerprint])
    )
    expect(verdict).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(
        /matches none of the pinned fingerprints, and known-hosts has no line/
      )
    })
  })

  test('a key marked @revoked', () => {
    const text = `@revoked app1.example.com ${keys.ed25519.type} ${keys.ed25519.base64}`
    const verdict = verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text))
    expect(verdict).toMatchObject({ accepted: false, reason: expect.stringContaining('@revoked') })
  })

  test('a revoked key even where another line, or a fingerprint, pins it (any line order)', () => {
    const revoked = `@revoked * ${keys.ed25519.type} ${keys.ed25519.base64}`
    const pinned = line('app1.example.com', keys.ed25519)
    for (const text of [`${revoked}\n${pinned}`, `${pinned}\n${revoked}`]) {
      const verdict = verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text))
      expect(verdict).toMatchObject({
        accepted: false,
        reason: expect.stringContaining('@revoked')
      })
    }
    const byFingerprint = verifyHostKey(
      keys.ed25519.blob,
      'app1.example.com',
      22,
      pins(revoked, [keys.ed25519.fingerprint])
    )
    expect(byFingerprint.accepted).toBe(false)
  })

  test('a revoked line for another key does not refuse the pinned one', () => {
    const text = `@revoked * ${other.type} ${other.base64}\n${line('app1.example.com', keys.ed25519)}`
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(true)
  })

  test('a @cert-authority line is no pin for a plain host key', () => {
    const text = `@cert-authority *.example.com ${keys.ed25519.type} ${keys.ed25519.base64}`
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(
      false
    )
  })

  test('a negated pattern !bad.example.com', () => {
    const text = line('*.example.com,!bad.example.com', keys.ed25519)
    const verdict = verifyHostKey(keys.ed25519.blob, 'bad.example.com', 22, pins(text))
    expect(verdict).toMatchObject({
      accepted: false,
      reason: 'known-hosts has no line for bad.example.com'
    })
    expect(verifyHostKey(keys.ed25519.blob, 'good.example.com', 22, pins(text)).accepted).toBe(true)
    // A negation alone matches nothing.
    expect(
      verifyHostKey(
        keys.ed25519.blob,
        'good.example.com',
        22,
        pins(line('!bad.example.com', keys.ed25519))
      ).accepted
    ).toBe(false)
  })

  test('regular-expression characters in a pattern are not a regular expression', () => {
    const text = line('app1.example.com|evil.test', keys.ed25519)
    expect(verifyHostKey(keys.ed25519.blob, 'evil.test', 22, pins(text)).accepted).toBe(false)
    expect(verifyHostKey(keys.ed25519.blob, 'app1.example.com', 22, pins(text)).accepted).toBe(
      false
    )
  })
})

describe('verifyHostKey: the most specific pin decides (no host can offer its key for another)', () => {
  const app = 'app1.example.com'
  const jump = 'bastion.example.com'
  const forHost = (name: string, key: HostKey, port?: number): HostFingerprint => ({
    name,
    ...(port === undefined ? {} : { port }),
    fingerprint: key.fingerprint
  })
  const withHostPins = (
    knownHosts: string,
    hostFingerprints: HostFingerprint[],
    fingerprints: string[] = []
  ): HostKeyPins => ({ knownHosts, fingerprints, hostFingerprints })

  test('a known_hosts line wins over a bare fingerprint: the jump host key offered by an app host is refused', () => {
    // The fleet: the jump host pinned by a bare fingerprint, the app host by its known_hosts line.
    const p = pins(line(app, keys.ed25519), [other.fingerprint])
    expect(verifyHostKey(other.blob, jump, 22, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p).accepted).toBe(true)
    const verdict = verifyHostKey(other.blob, app, 22, p)
    expect(verdict).toMatchObject({
      accepted: false,
      reason:
        'it does not match the key pinned in known-hosts for app1.example.com (the host key changed, ' +
        'or this is not the host you meant); fingerprint pins it, but a known-hosts line for a host wins'
    })
  })

  test('a known_hosts line on another port does not name the host: the bare fingerprint applies', () => {
    const p = pins(line(`[${app}]:2222`, keys.ed25519), [other.fingerprint])
    expect(verifyHostKey(other.blob, app, 22, p).accepted).toBe(true)
    expect(verifyHostKey(other.blob, app, 2222, p).accepted).toBe(false)
  })

  test('a @cert-authority or @revoked line for another key does not name the host', () => {
    const text = [
      `@cert-authority *.example.com ${keys.rsa.type} ${keys.rsa.base64}`,
      `@revoked * ${keys.ecdsa.type} ${keys.ecdsa.base64}`
    ].join('\n')
    expect(verifyHostKey(other.blob, app, 22, pins(text, [other.fingerprint])).accepted).toBe(true)
  })

  test('host=SHA256:... pins that host, on any port, and no other host', () => {
    const p = withHostPins('', [forHost(app, keys.ed25519)])
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, 'APP1.example.com', 2222, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, jump, 22, p)).toMatchObject({
      accepted: false,
      reason: `known-hosts has no line for ${jump}`
    })
  })

  test('host:port=SHA256:... pins that host on that port only', () => {
    const p = withHostPins('', [forHost(app, keys.ed25519, 2222)])
    expect(verifyHostKey(keys.ed25519.blob, app, 2222, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p).accepted).toBe(false)
  })

  test('an IPv6 address, [v6addr]:port=SHA256:...', () => {
    const p = withHostPins('', [forHost('2001:db8::7', keys.ecdsa, 2200)])
    expect(verifyHostKey(keys.ecdsa.blob, '2001:db8::7', 2200, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ecdsa.blob, '2001:db8::8', 2200, p).accepted).toBe(false)
  })

  test("a host's own fingerprint wins over a bare one", () => {
    const p = withHostPins('', [forHost(app, keys.ed25519)], [other.fingerprint])
    expect(verifyHostKey(other.blob, jump, 22, p).accepted).toBe(true)
    expect(verifyHostKey(other.blob, app, 22, p)).toMatchObject({
      accepted: false,
      reason: `it matches none of the fingerprints written for ${app} in fingerprint`
    })
  })

  test('several fingerprints for one host (one per key type) each pin it', () => {
    const p = withHostPins('', [forHost(app, keys.ed25519), forHost(app, keys.rsa)])
    expect(verifyHostKey(keys.rsa.blob, app, 22, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p).accepted).toBe(true)
    expect(verifyHostKey(keys.ecdsa.blob, app, 22, p).accepted).toBe(false)
  })

  test("a known_hosts line wins over the host's own fingerprint", () => {
    const p = withHostPins(line(app, keys.ed25519), [forHost(app, other)])
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p).accepted).toBe(true)
    expect(verifyHostKey(other.blob, app, 22, p)).toMatchObject({
      accepted: false,
      reason: expect.stringMatching(/does not match the key pinned in known-hosts.*wins$/)
    })
  })

  test('a revoked key stays refused where host= pins it', () => {
    const revoked = `@revoked * ${keys.ed25519.type} ${keys.ed25519.base64}`
    const p = withHostPins(revoked, [forHost(app, keys.ed25519)])
    expect(verifyHostKey(keys.ed25519.blob, app, 22, p)).toMatchObject({
      accepted: false,
      reason: expect.stringContaining('@revoked')
    })
  })
})
