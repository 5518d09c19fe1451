// Every input as a user types it into a workflow: what is accepted, the typed value it becomes,
// and for what is refused, an error that names the input and says what is allowed.

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Input } from '../src/constants.js'
import { InputError, readSettings, type ReadContext } from '../src/inputs/settings.js'
import { secretValues, type Settings } from '../src/settings.js'
import { redactor } from '../src/report/report.js'

let dir: string
let workspace: string
const keys = {
  ed25519: '',
  ed25519Public: '',
  encrypted: '',
  rsaPem: '',
  encryptedRsaPem: '',
  ecdsa: ''
}
const PASSPHRASE = 'correct horse battery'
let hostKeyLine: string
let hostFingerprintLine: string

function keygen(name: string, ...args: string[]): string {
  const file = join(dir, name)
  execFileSync('ssh-keygen', ['-q', ...args, '-C', `${name}@test`, '-f', file])
  return readFileSync(file, 'utf8')
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'settings-'))
  keys.ed25519 = keygen('id_ed25519', '-t', 'ed25519', '-N', '')
  keys.ed25519Public = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8')
  keys.encrypted = keygen('id_encrypted', '-t', 'ed25519', '-N', PASSPHRASE)
  keys.rsaPem = keygen('id_rsa', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '')
  keys.encryptedRsaPem = keygen(
    'id_rsa_enc',
    '-t',
    'rsa',
    '-b',
    '2048',
    '-m',
    'PEM',
    '-N',
    PASSPHRASE
  )
  keys.ecdsa = keygen('id_ecdsa', '-t', 'ecdsa', '-N', '')
  keygen('host_ed25519', '-t', 'ed25519', '-N', '')
  const [type, blob] = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').split(' ')
  hostKeyLine = `app1.example.com ${type} ${blob}`
  writeFileSync(join(dir, 'known_hosts'), `${hostKeyLine}\n`)
  hostFingerprintLine = execFileSync('ssh-keygen', ['-lf', join(dir, 'known_hosts')], {
    encoding: 'utf8'
  }).trim()

  workspace = join(dir, 'workspace')
  mkdirSync(join(workspace, 'backend'), { recursive: true })
  mkdirSync(join(workspace, 'docs'))
  writeFileSync(join(workspace, 'manage.py'), '')
  writeFileSync(join(workspace, 'backend', 'manage.py'), '')
  mkdirSync(join(dir, 'outside'))
  writeFileSync(join(dir, 'outside', 'manage.py'), '')
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A minimal valid set of inputs (what the README's first example sets), with overrides. */
function inputs(overrides: Record<string, string> = {}): ReadContext {
  const values: Record<string, string> = {
    host: 'app1.example.com',
    username: 'deploy',
    key: keys.ed25519,
    'known-hosts': hostKeyLine,
    'project-name': 'mysite',
    ...overrides
  }
  return { getInput: (name) => values[name] ?? '', workspace }
}

const read = (overrides: Record<string, string> = {}): Settings => readSettings(inputs(overrides))

/** The InputError that these inputs raise (fails the test when they are accepted). */
function failure(overrides: Record<string, string>): InputError {
  try {
    read(overrides)
  } catch (error) {
    if (error instanceof InputError) return error
    throw error
  }
  throw new Error(`accepted, but should not be: ${JSON.stringify(overrides)}`)
}

/** Asserts a refusal that names `input` first and says each of `says`. */
function expectRejected(
  overrides: Record<string, string>,
  input: string,
  ...says: Array<string | RegExp>
) {
  const error = failure(overrides)
  expect(error.input).toBe(input)
  expect(error.message.startsWith(`Input '${input}': `)).toBe(true)
  for (const part of says) expect(error.message).toMatch(part)
  return error
}

describe('a minimal valid set', () => {
  test('gives the documented defaults', () => {
    const s = read()
    expect(s).toMatchObject({
      hosts: [{ name: 'app1.example.com', port: 22 }],
      username: 'deploy',
      knownHosts: hostKeyLine,
      fingerprints: [],
      insecureSkipHostKeyCheck: false,
      connectTimeoutMs: 30_000,
      commandTimeoutMs: 600_000,
      projectName: 'mysite',
      wsgiModule: 'mysite.wsgi:application',
      settingsModule: 'mysite.settings',
      deployPath: '/srv/mysite',
      source: workspace,
      exclude: ['__pycache__', '*.pyc', '.venv', 'node_modules'],
      requirements: 'requirements.txt',
      python: 'python3',
      systemSitePackages: false,
      dotenv: [],
      migrate: true,
      collectstatic: true,
      checkDeploy: false,
      preRestart: '',
      postDeploy: '',
      keepReleases: 5,
      appUser: 'mysite',
      workers: 'auto',
      gunicornArgs: [],
      serverNames: ['_'],
      listen: { port: 80 },
      clientMaxBodySize: '10m',
      nginxDirectives: '',
      healthPath: '/',
      healthExpect: [{ min: 200, max: 499 }],
      healthTimeoutMs: 60_000,
      environment: 'production',
      environmentUrl: 'http://app1.example.com',
      deployment: true,
      dryRun: false,
      rollback: false,
      maxParallel: 1
    })
    expect(s.privateKey).toBe(keys.ed25519.trim() + '\n')
    expect(s.staticUrl).toBeUndefined()
    expect(s.mediaRoot).toBeUndefined()
    expect(s.tlsCertificate).toBeUndefined()
    expect(s.jumpHost).toBeUndefined()
    expect(s.healthUrl).toBeUndefined()
  })

  test('an input set to white space only counts as unset (its default applies)', () => {
    const s = read({ port: '  ', workers: '\n', 'server-name': ' ' })
    expect(s.hosts[0].port).toBe(22)
    expect(s.workers).toBe('auto')
    expect(s.serverNames).toEqual(['_'])
  })

  test('values are trimmed', () => {
    const s = read({
      host: '  app1.example.com \n',
      username: ' deploy ',
      'project-name': ' mysite\n'
    })
    expect(s.hosts).toEqual([{ name: 'app1.example.com', port: 22 }])
    expect(s.username).toBe('deploy')
    expect(s.projectName).toBe('mysite')
  })
})

describe('required inputs', () => {
  test('host', () => {
    expectRejected({ host: '' }, Input.Host, /is required/, /name or name:port/)
  })
  test('username', () => {
    expectRejected({ username: '' }, Input.Username, /is required/, /SSH user/)
  })
  test('project-name', () => {
    expectRejected({ 'project-name': '' }, Input.ProjectName, /is required/, /e\.g\. mysite/)
  })
  test('key, unless password', () => {
    expectRejected({ key: '' }, Input.Key, /is required/, /password/)
    const s = read({ key: '', password: 'hunter2hunter2' })
    expect(s.privateKey).toBeUndefined()
    expect(s.password).toBe('hunter2hunter2')
  })
})

describe('host', () => {
  test('several hosts, newline separated', () => {
    expect(read({ host: 'app1.example.com\napp2.example.com\n' }).hosts).toEqual([
      { name: 'app1.example.com', port: 22 },
      { name: 'app2.example.com', port: 22 }
    ])
  })

  test('several hosts, comma separated, with and without ports', () => {
    expect(read({ host: 'app1.example.com:2222, app2.example.com,192.0.2.7:22' }).hosts).toEqual([
      { name: 'app1.example.com', port: 2222 },
      { name: 'app2.example.com', port: 22 },
      { name: '192.0.2.7', port: 22 }
    ])
  })

  test('IPv6: [::1]:2222, [::1] and a bare ::1', () => {
    expect(read({ host: '[::1]:2222' }).hosts).toEqual([{ name: '::1', port: 2222 }])
    expect(read({ host: '[::1]' }).hosts).toEqual([{ name: '::1', port: 22 }])
    expect(read({ host: '2001:db8::10' }).hosts).toEqual([{ name: '2001:db8::10', port: 22 }])
  })

  test('port is the default where a host names none', () => {
    expect(read({ host: 'app1.example.com\napp2.example.com:2200', port: '2222' }).hosts).toEqual([
      { name: 'app1.example.com', port: 2222 },
      { name: 'app2.example.com', port: 2200 }
    ])
  })

  test('bad hosts', () => {
    expectRejected({ host: 'app1.example.com:0' }, Input.Host, /from 1 to 65535/)
    expectRejected({ host: 'app1.example.com:65536' }, Input.Host, /from 1 to 65535, not 65536/)
    expectRejected({ host: 'app1.example.com:ssh' }, Input.Host, /name or name:port/)
    expectRejected(
      { host: 'under_score!.example.com' },
      Input.Host,
      /not a host name or IP address/
    )
    expectRejected({ host: 'app1 example.com' }, Input.Host, /white space/)
    expectRejected({ host: '[app1.example.com]:22' }, Input.Host)
    expectRejected({ host: '[::1' }, Input.Host)
    expectRejected({ host: 'fe80::1%eth0' }, Input.Host, /name or name:port/)
    expectRejected({ host: 'deploy@app1.example.com' }, Input.Host, /not a host name/)
  })

  test('at most 100 hosts', () => {
    const many = Array.from({ length: 101 }, (_, i) => `app${i}.example.com`).join('\n')
    expectRejected({ host: many }, Input.Host, /more than 100/)
    expect(read({ host: many.split('\n').slice(0, 100).join('\n') }).hosts).toHaveLength(100)
  })
})

describe('port', () => {
  test.each([
    ['1', 1],
    ['2222', 2222],
    ['65535', 65535]
  ])('%s', (text, port) => {
    expect(read({ port: text }).hosts[0].port).toBe(port)
  })

  test.each(['0', '65536', '-1', '22.5', 'ssh', '0x16', '1e3'])('%s is refused', (text) => {
    expectRejected({ port: text }, Input.Port, /from 1 to 65535/)
  })
})

describe('booleans', () => {
  const booleans: Array<[Input, keyof Settings]> = [
    [Input.InsecureSkipHostKeyCheck, 'insecureSkipHostKeyCheck'],
    [Input.SystemSitePackages, 'systemSitePackages'],
    [Input.Migrate, 'migrate'],
    [Input.Collectstatic, 'collectstatic'],
    [Input.CheckDeploy, 'checkDeploy'],
    [Input.Deployment, 'deployment'],
    [Input.DryRun, 'dryRun'],
    [Input.Rollback, 'rollback']
  ]

  test.each(booleans)('%s: true/false/yes/no in any case', (input, field) => {
    for (const [text, value] of [
      ['true', true],
      ['false', false],
      ['yes', true],
      ['no', false],
      ['True', true],
      ['FALSE', false],
      ['on', true],
      ['off', false]
    ] as const) {
      expect(read({ [input]: text })[field]).toBe(value)
    }
  })

  test.each(booleans)('%s: anything else names the input', (input) => {
    const error = expectRejected({ [input]: 'maybe' }, input, /must be true or false, not 'maybe'/)
    expect(error.message).toBe(`Input '${input}': must be true or false, not 'maybe'`)
    expectRejected({ [input]: '1' }, input, /true or false/)
  })
})

describe('whole numbers', () => {
  test('timeout and command-timeout are seconds, as milliseconds', () => {
    const s = read({ timeout: '45', 'command-timeout': '1200', 'health-timeout': '90' })
    expect(s.connectTimeoutMs).toBe(45_000)
    expect(s.commandTimeoutMs).toBe(1_200_000)
    expect(s.healthTimeoutMs).toBe(90_000)
    expect(s.drainTimeoutS).toBe(30)
    expect(read({ 'drain-timeout': '0' }).drainTimeoutS).toBe(0)
  })

  test.each([
    [Input.Timeout, '0', /from 1 to 3600, not 0/],
    [Input.Timeout, '3601', /from 1 to 3600/],
    [Input.Timeout, '1.5', /whole number from 1 to 3600, not '1.5'/],
    [Input.Timeout, '30s', /whole number/],
    [Input.CommandTimeout, '86401', /from 1 to 86400/],
    [Input.CommandTimeout, '-5', /whole number/],
    [Input.HealthTimeout, '0', /from 1 to 3600/],
    [Input.HealthTimeout, 'forever', /whole number/],
    [Input.DrainTimeout, '3601', /from 0 to 3600/],
    [Input.DrainTimeout, '5s', /whole number/],
    [Input.KeepReleases, '1', /from 2 to 100, not 1/],
    [Input.KeepReleases, '101', /from 2 to 100/],
    [Input.KeepReleases, 'all', /whole number/],
    [Input.MaxParallel, '0', /from 1 to 100/],
    [Input.MaxParallel, '101', /from 1 to 100/],
    [Input.Workers, '0', /from 1 to 256/],
    [Input.Workers, '257', /from 1 to 256/],
    [Input.Workers, 'many', /whole number/],
    [Input.Workers, 'Auto', /whole number/]
  ])('%s: %s is refused', (input, text, says) => {
    expectRejected({ [input]: text }, input, says)
  })

  test('keep-releases', () => {
    expect(read({ 'keep-releases': '2' }).keepReleases).toBe(2)
    expect(read({ 'keep-releases': '100' }).keepReleases).toBe(100)
  })

  test('workers: auto or a number', () => {
    expect(read({ workers: 'auto' }).workers).toBe('auto')
    expect(read({ workers: '4' }).workers).toBe(4)
  })

  test('a huge number is refused, not rounded', () => {
    expectRejected({ timeout: '99999999999999999999' }, Input.Timeout, /whole number/)
  })
})

describe('host key pinning', () => {
  test('no pin and no opt-out: the error names known-hosts and fingerprint, and the opt-out', () => {
    const error = expectRejected({ 'known-hosts': '' }, Input.KnownHosts, /no host key is pinned/)
    expect(error.message).toMatch(/fingerprint/)
    expect(error.message).toMatch(/ssh-keyscan/)
    expect(error.message).toMatch(/insecure-skip-host-key-check: true/)
  })

  test('insecure-skip-host-key-check alone is accepted', () => {
    const s = read({ 'known-hosts': '', 'insecure-skip-host-key-check': 'true' })
    expect(s.insecureSkipHostKeyCheck).toBe(true)
    expect(s.knownHosts).toBe('')
    expect(s.fingerprints).toEqual([])
  })

  test('a fingerprint alone is a pin', () => {
    const fingerprint = hostFingerprintLine.split(' ')[1]
    const s = read({ 'known-hosts': '', fingerprint })
    expect(s.fingerprints).toEqual([fingerprint])
  })
})

describe('fingerprint', () => {
  test('a line as ssh-keygen -lf prints it', () => {
    expect(hostFingerprintLine).toMatch(/^256 SHA256:\S{43} app1\.example\.com \(ED25519\)$/)
    const s = read({ fingerprint: hostFingerprintLine })
    expect(s.fingerprints).toEqual([hostFingerprintLine.split(' ')[1]])
  })

  test('several, one per line or comma separated, a trailing = accepted', () => {
    const a = `SHA256:${'A'.repeat(43)}`
    const b = `SHA256:${'b'.repeat(42)}+`
    expect(read({ fingerprint: `${a}\n${b}` }).fingerprints).toEqual([a, b])
    expect(read({ fingerprint: `${a}=, ${b}` }).fingerprints).toEqual([a, b])
  })

  test('ssh-keygen -lf lines for a host on another port or an IPv6 address', () => {
    const fingerprint = `SHA256:${'c'.repeat(43)}`
    expect(
      read({ fingerprint: `256 ${fingerprint} [app1.example.com]:2222 (ED25519)` }).fingerprints
    ).toEqual([fingerprint])
    expect(read({ fingerprint: `256 ${fingerprint} ::1 (ECDSA)` }).fingerprints).toEqual([
      fingerprint
    ])
    expect(read({ fingerprint: `3072 ${fingerprint} deploy@ci (RSA-CERT)` }).fingerprints).toEqual([
      fingerprint
    ])
  })

  test('garbage is refused', () => {
    expectRejected(
      { fingerprint: 'not a fingerprint' },
      Input.Fingerprint,
      /holds no SHA256:\.\.\. fingerprint/
    )
    expectRejected(
      { fingerprint: 'SHA256:tooshort' },
      Input.Fingerprint,
      /'SHA256:tooshort' is not a SHA256/
    )
    expectRejected({ fingerprint: `SHA256:${'A'.repeat(42)}!` }, Input.Fingerprint, /not a SHA256/)
    expectRejected(
      { fingerprint: 'MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48' },
      Input.Fingerprint,
      /SHA256/
    )
  })
})

describe('fingerprint written for a host', () => {
  const fp = (c: string) => `SHA256:${c.repeat(43)}`

  test('host=, host:port= and [v6addr]:port=, each for its own host; bare ones stay bare', () => {
    const s = read({
      host: 'app1.example.com, app2.example.com:2222, [2001:db8::7]:2200',
      'known-hosts': '',
      fingerprint: [
        `app1.example.com=${fp('a')}`,
        `app2.example.com:2222=${fp('b')}=`,
        `[2001:db8::7]:2200=${fp('c')}`,
        fp('d')
      ].join('\n')
    })
    expect(s.hostFingerprints).toEqual([
      { name: 'app1.example.com', fingerprint: fp('a') },
      { name: 'app2.example.com', port: 2222, fingerprint: fp('b') },
      { name: '2001:db8::7', port: 2200, fingerprint: fp('c') }
    ])
    expect(s.fingerprints).toEqual([fp('d')])
  })

  test('a bare IPv6 address, and the names in any case', () => {
    const s = read({
      host: '2001:db8::7, App1.Example.com',
      fingerprint: `2001:db8::7=${fp('a')}, app1.example.COM=${fp('b')}`
    })
    expect(s.hostFingerprints.map((p) => p.name)).toEqual(['2001:db8::7', 'app1.example.COM'])
  })

  test('the jump host by its own name (and port)', () => {
    const s = read({
      'jump-host': 'ops@bastion.example.com:2200',
      fingerprint: `bastion.example.com:2200=${fp('j')}`
    })
    expect(s.hostFingerprints).toEqual([
      { name: 'bastion.example.com', port: 2200, fingerprint: fp('j') }
    ])
  })

  test('host= alone is a pin', () => {
    const s = read({ 'known-hosts': '', fingerprint: `app1.example.com=${fp('a')}` })
    expect(s.fingerprints).toEqual([])
    expect(s.hostFingerprints).toHaveLength(1)
  })

  test('ssh-keygen -lf lines stay bare fingerprints, whatever host they show', () => {
    const s = read({ fingerprint: hostFingerprintLine })
    expect(s.hostFingerprints).toEqual([])
    expect(s.fingerprints).toEqual([hostFingerprintLine.split(' ')[1]])
  })

  test.each([
    [
      'a host that is not deployed to',
      `app9.example.com=${fp('a')}`,
      /'app9\.example\.com=SHA256:a+' names no host of host or jump-host/
    ],
    [
      'the host on another port',
      `app1.example.com:2222=${fp('a')}`,
      /'app1\.example\.com:2222=SHA256:a+' names no host/
    ],
    [
      'an IPv6 address not deployed to',
      `[2001:db8::9]:22=${fp('a')}`,
      /'\[2001:db8::9\]:22=SHA256:a+' names no host/
    ],
    [
      'a jump host on another port',
      `bastion.example.com=${fp('a')}, bastion.example.com:2222=${fp('b')}`,
      /'bastion\.example\.com:2222=/
    ]
  ])('%s is refused before connecting', (_name, fingerprint, says) => {
    expectRejected({ 'jump-host': 'bastion.example.com', fingerprint }, Input.Fingerprint, says)
  })

  test.each([
    [
      'a space after =',
      `app1.example.com= ${fp('a')}`,
      /'app1\.example\.com=' is not host=SHA256:\.\.\. \(one word/
    ],
    ['a lone =', `app1.example.com = ${fp('a')}`, /'=' is not host=SHA256/],
    ['a short fingerprint', 'app1.example.com=SHA256:tooshort', /is not host=SHA256/],
    ['an MD5 fingerprint', 'app1.example.com=MD5:16:27:ac:a5:76:28:2d:36', /is not host=SHA256/],
    [
      'a host that is no host name',
      `app1.example.com;id=${fp('a')}`,
      /'app1\.example\.com;id' is not a host name/
    ],
    ['no host', `=${fp('a')}`, /'' is not a host name/],
    ['a port out of range', `app1.example.com:70000=${fp('a')}`, /fingerprint/]
  ])('%s is refused', (_name, fingerprint, says) => {
    expectRejected({ fingerprint }, Input.Fingerprint, says)
  })
})

describe('known-hosts', () => {
  const blob = () => hostKeyLine.split(' ')[2]

  test('lines as ssh-keyscan prints them, with comments and blank lines left out', () => {
    const text = `# app1.example.com:22 SSH-2.0-OpenSSH_9.2p1\n\n${hostKeyLine}\r\n`
    expect(read({ 'known-hosts': text }).knownHosts).toBe(hostKeyLine)
  })

  test('hashed |1|...| entries, [host]:port, @revoked and @cert-authority markers', () => {
    const text = [
      `|1|p7y2HwJwDFIYntjdb0HORPJchEM=|nF7u+34R09h4/FhpjOVW1mB7HRM= ssh-ed25519 ${blob()}`,
      `[app1.example.com]:2222 ssh-ed25519 ${blob()}`,
      `app1.example.com,192.0.2.7 ssh-ed25519 ${blob()}`,
      `@revoked * ssh-ed25519 ${blob()}`,
      `@cert-authority *.example.com ssh-ed25519 ${blob()}`,
      `app1.example.com ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY=`,
      `app1.example.com ssh-rsa AAAAB3NzaC1yc2E=`
    ].join('\n')
    expect(read({ 'known-hosts': text }).knownHosts).toBe(text)
  })

  test('a garbage line is refused with its line number as pasted', () => {
    const text = `# comment\n${hostKeyLine}\n\nthis is not a key`
    expectRejected(
      { 'known-hosts': text },
      Input.KnownHosts,
      /line 4 is not a known_hosts line/,
      /ssh-keyscan/
    )
  })

  test.each([
    ['a fingerprint', 'app1.example.com SHA256:abc'],
    ['an unknown key type', 'app1.example.com ssh-foo AAAA'],
    ['no key', 'app1.example.com ssh-ed25519'],
    ['a key that is not base64', 'app1.example.com ssh-ed25519 AAAA$(id)'],
    ['a public key line without a host', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA']
  ])('%s is refused', (_name, text) => {
    expectRejected({ 'known-hosts': text }, Input.KnownHosts, /line 1 is not a known_hosts line/)
  })
})

describe('key', () => {
  test.each([
    ['an OpenSSH ed25519 key', () => keys.ed25519],
    ['an rsa PEM key', () => keys.rsaPem],
    ['an ecdsa key', () => keys.ecdsa]
  ])('%s is accepted', (_name, key) => {
    expect(read({ key: key() }).privateKey).toBe(key().trim() + '\n')
  })

  test('Windows line ends and surrounding blank lines are normalised', () => {
    const pasted = `\n\n${keys.ed25519.trim().replace(/\n/g, '\r\n')}\r\n\n`
    expect(read({ key: pasted }).privateKey).toBe(keys.ed25519.trim() + '\n')
  })

  test('an encrypted key with its passphrase', () => {
    const s = read({ key: keys.encrypted, passphrase: PASSPHRASE })
    expect(s.privateKey).toBe(keys.encrypted.trim() + '\n')
    expect(s.passphrase).toBe(PASSPHRASE)
    expect(read({ key: keys.encryptedRsaPem, passphrase: PASSPHRASE }).privateKey).toContain(
      'ENCRYPTED'
    )
  })

  test('a public key pasted instead', () => {
    expectRejected({ key: keys.ed25519Public }, Input.Key, /holds a public key/, /without \.pub/)
  })

  test('no BEGIN line', () => {
    expectRejected(
      { key: 'my-deploy-key' },
      Input.Key,
      /has no "-----BEGIN \.\.\. PRIVATE KEY-----" line/
    )
    const body = keys.ed25519.split('\n').slice(1).join('\n')
    expectRejected({ key: body }, Input.Key, /BEGIN/)
  })

  test('pasted on one line', () => {
    expectRejected(
      { key: keys.ed25519.trim().replace(/\n/g, ' ') },
      Input.Key,
      /without its line breaks/
    )
  })

  test('truncated without its END line', () => {
    const lines = keys.ed25519.trim().split('\n')
    expectRejected(
      { key: lines.slice(0, 3).join('\n') },
      Input.Key,
      /no "-----END \.\.\. PRIVATE KEY-----" line/,
      /cut short/
    )
  })

  test('a damaged key body', () => {
    const lines = keys.ed25519.trim().split('\n')
    const damaged = [lines[0], lines[1], lines[lines.length - 1]].join('\n')
    expectRejected({ key: damaged }, Input.Key, /cannot be read/)
  })

  test('encrypted without a passphrase', () => {
    expectRejected({ key: keys.encrypted }, Input.Key, /is encrypted: set passphrase/)
    expectRejected({ key: keys.encryptedRsaPem }, Input.Key, /is encrypted: set passphrase/)
  })

  test('a wrong passphrase names passphrase', () => {
    expectRejected(
      { key: keys.encrypted, passphrase: 'wrong' },
      Input.Passphrase,
      /does not decrypt the key/
    )
    expectRejected(
      { key: keys.encryptedRsaPem, passphrase: 'wrong one' },
      Input.Passphrase,
      /does not decrypt/
    )
  })
})

describe('jump-host', () => {
  test('host only: port 22 and the SSH user', () => {
    expect(read({ 'jump-host': 'bastion.example.com' }).jumpHost).toEqual({
      name: 'bastion.example.com',
      port: 22,
      username: 'deploy'
    })
  })

  test('user@host:port', () => {
    expect(read({ 'jump-host': 'jump@bastion.example.com:2222' }).jumpHost).toEqual({
      name: 'bastion.example.com',
      port: 2222,
      username: 'jump'
    })
  })

  test('user@[IPv6]:port', () => {
    expect(read({ 'jump-host': 'ops@[2001:db8::1]:2200' }).jumpHost).toEqual({
      name: '2001:db8::1',
      port: 2200,
      username: 'ops'
    })
  })

  test.each([
    ['bad user@bastion.example.com', /'bad user' is not a user name/],
    ['@bastion.example.com', /'' is not a user name/],
    ['jump@', /is not a host name/],
    ['jump@bastion.example.com:0', /from 1 to 65535/],
    ['jump@bastion.example.com:22:22', /name or name:port/],
    ['bastion.example.com\nother.example.com', /single line/]
  ])('%s is refused', (text, says) => {
    expectRejected({ 'jump-host': text }, Input.JumpHost, says)
  })
})

describe('project-name and what is derived from it', () => {
  test('defaults', () => {
    const s = read({ 'project-name': 'My_Site' })
    expect(s.wsgiModule).toBe('My_Site.wsgi:application')
    expect(s.settingsModule).toBe('My_Site.settings')
    expect(s.deployPath).toBe('/srv/My_Site')
    expect(s.appUser).toBe('my_site')
  })

  test('a project name that starts with _ gives an app user without it', () => {
    expect(read({ 'project-name': '_private' }).appUser).toBe('private')
  })

  test.each(['my-site', '1site', 'my site', 'mysite.settings', 'a'.repeat(65)])(
    '%s is refused',
    (name) => {
      expectRejected({ 'project-name': name }, Input.ProjectName)
    }
  )

  test('my-site: the message says what a package name is', () => {
    expectRejected({ 'project-name': 'my-site' }, Input.ProjectName, /Python package name/)
  })

  test('wsgi-module and settings-module of your own', () => {
    const s = read({
      'wsgi-module': 'config.wsgi:app',
      'settings-module': 'config.settings.production'
    })
    expect(s.wsgiModule).toBe('config.wsgi:app')
    expect(s.settingsModule).toBe('config.settings.production')
    expect(read({ 'wsgi-module': 'config.wsgi' }).wsgiModule).toBe('config.wsgi')
  })

  test.each(['config/wsgi.py', 'config.wsgi:app()', 'config.wsgi:', ':application', 'config wsgi'])(
    'wsgi-module %s is refused',
    (text) => {
      expectRejected({ 'wsgi-module': text }, Input.WsgiModule, /module\.path:variable/)
    }
  )

  test.each(['config/settings.py', 'config.settings.', '.settings', 'config-settings'])(
    'settings-module %s is refused',
    (text) => {
      expectRejected({ 'settings-module': text }, Input.SettingsModule, /dotted module path/)
    }
  )

  test('app-user of your own', () => {
    expect(read({ 'app-user': 'www-app' }).appUser).toBe('www-app')
  })

  test.each([
    ['root', /must not be root/],
    ['deploy', /must not be deploy/],
    ['WebApp', /lower-case user name/],
    ['1app', /lower-case user name/],
    ['a'.repeat(33), /at most 32/]
  ])('app-user %s is refused', (text, says) => {
    expectRejected({ 'app-user': text }, Input.AppUser, says)
  })

  test.each([
    'www-data',
    'postgres',
    'nobody',
    'daemon',
    'sshd',
    'redis',
    'sudo',
    'systemd-network'
  ])('app-user %s, an account the host or a service has, is refused', (text) => {
    expectRejected(
      { 'app-user': text },
      Input.AppUser,
      `must not be ${text}: that is an account or group the host or one of its services already has`,
      /Name a user of the app's own, which the action creates when it is missing \(by default the project name\), e\.g\. mysite$/
    )
  })

  test('a project named like a system account needs an app-user of its own', () => {
    expectRejected(
      { 'project-name': 'postgres' },
      Input.AppUser,
      /must not be postgres/,
      /e\.g\. postgres-web$/
    )
    expect(read({ 'project-name': 'postgres', 'app-user': 'postgres-web' }).appUser).toBe(
      'postgres-web'
    )
  })
})

describe('deploy-path', () => {
  test('absolute; a trailing slash is dropped', () => {
    expect(read({ 'deploy-path': '/srv/apps/mysite/' }).deployPath).toBe('/srv/apps/mysite')
    expect(read({ 'deploy-path': '/home/deploy/mysite' }).deployPath).toBe('/home/deploy/mysite')
    expect(read({ 'deploy-path': '/opt/my-site_2.0@prod' }).deployPath).toBe(
      '/opt/my-site_2.0@prod'
    )
  })

  test.each(['/srv/mysite', '/opt/mysite', '/var/www/mysite', '/var/lib/mysite', '/home/web/a/b'])(
    '%s is allowed',
    (text) => {
      expect(read({ 'deploy-path': text }).deployPath).toBe(text)
    }
  )

  test.each([
    ['srv/mysite', /absolute path/],
    ['./mysite', /absolute path/],
    ['/srv/../etc/mysite', /without \.\./],
    ['/srv/./mysite', /absolute path/],
    ['/srv//mysite', /absolute path/],
    ['/srv/my site', /absolute path/],
    ['~/mysite', /absolute path/]
  ])('%s is refused', (text, says) => {
    expectRejected({ 'deploy-path': text }, Input.DeployPath, says)
  })

  test.each([
    '/',
    '//',
    '/etc',
    '/etc/',
    '/etc/nginx',
    '/etc/systemd/system',
    '/root/.ssh',
    '/root/mysite',
    '/usr/local/mysite',
    '/srv',
    '/opt/',
    '/var',
    '/var/www',
    '/var/lib',
    '/var/log/mysite',
    '/var/tmp/mysite',
    '/var/spool/cron',
    '/home',
    '/home/deploy',
    '/tmp/mysite',
    '/run/mysite',
    '/proc/1',
    '/dev/shm/mysite',
    '/boot/mysite',
    '/mnt/data/mysite',
    '/srvx/mysite',
    '/homes/deploy/mysite'
  ])('%s is not in the allow-list', (text) => {
    const error = expectRejected(
      { 'deploy-path': text },
      Input.DeployPath,
      /is not below \/srv, \/opt, \/var\/www, \/var\/lib or \/home\/<user>; use e\.g\. \/srv\/mysite$/
    )
    expect(error.message).toContain(`'deploy-path': ${text.replace(/(.)\/+$/, '$1')} is not`)
  })

  test('not in a folder of the app user, who could swap the code for its own', () => {
    for (const text of ['/home/mysite/app', '/var/lib/mysite/app']) {
      expectRejected({ 'deploy-path': text }, Input.DeployPath, /folder of the app user mysite/)
      expect(read({ 'deploy-path': text, 'app-user': 'web' }).deployPath).toBe(text)
    }
  })
})

describe('source', () => {
  test('none deploys configs only', () => {
    expect(read({ source: 'none' }).source).toBeNull()
  })

  test('a sub-folder holding manage.py, as an absolute path', () => {
    expect(read({ source: 'backend' }).source).toBe(join(workspace, 'backend'))
    expect(read({ source: './backend/' }).source).toBe(join(workspace, 'backend'))
  })

  test('a folder that does not exist', () => {
    expectRejected(
      { source: 'frontend' },
      Input.Source,
      /does not exist in the workspace/,
      /actions\/checkout/
    )
  })

  test('a folder without manage.py', () => {
    expectRejected({ source: 'docs' }, Input.Source, /holds no manage\.py/)
  })

  test('a file instead of a folder', () => {
    expectRejected({ source: 'manage.py' }, Input.Source, /does not exist/)
  })

  test('a folder outside the workspace, even with a manage.py', () => {
    expectRejected({ source: '../outside' }, Input.Source, /outside the workspace/)
    expectRejected({ source: join(dir, 'outside') }, Input.Source, /outside the workspace/)
  })
})

describe('requirements and python', () => {
  test('requirements: a path inside the source folder', () => {
    expect(read({ requirements: 'requirements/production.txt' }).requirements).toBe(
      'requirements/production.txt'
    )
  })

  test.each([
    '../requirements.txt',
    'requirements/../../x.txt',
    '/etc/requirements.txt',
    'req uirements.txt',
    'r.txt;id'
  ])('requirements %s is refused', (text) => {
    expectRejected({ requirements: text }, Input.Requirements, /path inside the source folder/)
  })

  test.each([
    'python3',
    'python3.12',
    '/usr/bin/python3.11',
    '/opt/pyenv/versions/3.12.1/bin/python'
  ])('python %s', (text) => {
    expect(read({ python: text }).python).toBe(text)
  })

  test.each([
    'python',
    'python2',
    'python3 -I',
    'python3.123',
    'bin/python3',
    '/usr/../bin/sh',
    'py;thon3'
  ])('python %s is refused', (text) => {
    expectRejected({ python: text }, Input.Python, /python3, python3\.N or an absolute path/)
  })
})

describe('dotenv', () => {
  test('KEY=VALUE lines: comments, blank lines, export, quotes stripped', () => {
    const text = [
      '# production settings',
      '',
      'export DEBUG=0',
      "SECRET_KEY='abc def#ghi'",
      'DATABASE_URL="postgres://app:p@ss@db/app"',
      'EMPTY=',
      'WITH_EQUALS=a=b',
      '  INDENTED=yes  ',
      'HALF_QUOTED="abc',
      'INNER="a"b"'
    ].join('\r\n')
    expect(read({ dotenv: text }).dotenv).toEqual([
      ['DEBUG', '0'],
      ['SECRET_KEY', 'abc def#ghi'],
      ['DATABASE_URL', 'postgres://app:p@ss@db/app'],
      ['EMPTY', ''],
      ['WITH_EQUALS', 'a=b'],
      ['INDENTED', 'yes'],
      ['HALF_QUOTED', '"abc'],
      ['INNER', 'a"b']
    ])
  })

  test.each([
    ['1KEY=x', 1],
    ['DEBUG=0\nMY-KEY=x', 2],
    ['DEBUG=0\n\nKEY = x', 3],
    ['# c\njust text', 2],
    ['=value', 1],
    ['KÉY=x', 1]
  ])('%j: the bad line is named', (text, line) => {
    expectRejected({ dotenv: text }, Input.Dotenv, new RegExp(`line ${line} is not KEY=VALUE`))
  })

  test('a control character in a value', () => {
    expectRejected(
      { dotenv: 'KEY=a\u0007b' },
      Input.Dotenv,
      /the value of KEY contains a control character/
    )
    expectRejected({ dotenv: 'KEY="a\u001bb"' }, Input.Dotenv, /control character/)
  })

  test('a carriage return alone ends a line, like a newline', () => {
    expectRejected({ dotenv: 'KEY=a\rb' }, Input.Dotenv, /line 2 is not KEY=VALUE/)
  })

  test('a very long value or name', () => {
    expectRejected({ dotenv: `KEY=${'x'.repeat(5000)}` }, Input.Dotenv, /too long/)
    expectRejected({ dotenv: `${'K'.repeat(300)}=x` }, Input.Dotenv, /longer than 256/)
  })
})

describe('gunicorn-args', () => {
  test('plain arguments are split into words', () => {
    expect(read({ 'gunicorn-args': '--timeout 60 --access-logfile -' }).gunicornArgs).toEqual([
      '--timeout',
      '60',
      '--access-logfile',
      '-'
    ])
    expect(
      read({ 'gunicorn-args': ' --timeout=60\t--worker-class gthread --threads 4 ' }).gunicornArgs
    ).toEqual(['--timeout=60', '--worker-class', 'gthread', '--threads', '4'])
    expect(
      read({ 'gunicorn-args': '--graceful-timeout 20 --max-requests 1000 -k gevent -t 30' })
        .gunicornArgs
    ).toHaveLength(8)
    expect(
      read({
        'gunicorn-args':
          '--forwarded-allow-ips=* -c python:mysite.gunicorn_conf --worker-tmp-dir /dev/shm'
      }).gunicornArgs
    ).toEqual([
      '--forwarded-allow-ips=*',
      '-c',
      'python:mysite.gunicorn_conf',
      '--worker-tmp-dir',
      '/dev/shm'
    ])
  })

  test.each([
    ['--timeout 60; rm -rf /', /plain arguments \(no ; \| & > <\)/],
    ['--timeout 60 | tee x', /plain arguments/],
    ['--timeout 60 && id', /plain arguments/],
    ['--timeout 60 > /tmp/x', /plain arguments/],
    ['--timeout $TIMEOUT', /variable/],
    ['--timeout ${TIMEOUT}', /variable/],
    ['--name "my app"', /has '"'/],
    ["--name 'my app'", /has a quote \('\)/],
    ['--timeout `id`', /has '`'/],
    ['--log-file %h/log', /has '%'/],
    ['--name ехаmple', /U\+0435/],
    ['--config ../gunicorn.conf.py', /'\.\.'/],
    ['--timeout 60\n--workers 3', /single line/],
    [`--timeout ${'1'.repeat(1100)}`, /at most 1024/]
  ])('%s is refused', (text, says) => {
    expectRejected({ 'gunicorn-args': text }, Input.GunicornArgs, says)
  })

  test.each([
    ['--bind 0.0.0.0:8000', '--bind'],
    ['--bind=0.0.0.0:8000', '--bind'],
    ['-b 0.0.0.0:8000', '-b'],
    ['-b0.0.0.0:8000', '-b'],
    ['--bi 0.0.0.0:8000', '--bi'],
    ['-w 4', '-w'],
    ['-w4', '-w'],
    ['--workers=4', '--workers'],
    ['-R -w 4', '-w'],
    ['-Rw4', '-w'],
    ['--user root', '--user'],
    ['-u root', '-u'],
    ['--group root', '--group'],
    ['--chdir /tmp', '--chdir'],
    ['--daemon', '--daemon'],
    ['-D', '-D']
  ])('%s: an option the action sets', (text, flag) => {
    const error = expectRejected(
      { 'gunicorn-args': text },
      Input.GunicornArgs,
      /is set by the action/,
      /workers or app-user/
    )
    expect(error.message).toContain(`${flag} is set`)
  })
})

describe('server-name', () => {
  test('several names, space or comma separated', () => {
    expect(read({ 'server-name': 'example.com www.example.com' }).serverNames).toEqual([
      'example.com',
      'www.example.com'
    ])
    expect(
      read({ 'server-name': 'example.com,www.example.com, api.example.com' }).serverNames
    ).toEqual(['example.com', 'www.example.com', 'api.example.com'])
  })

  test('_ for any name, wildcards and a leading dot', () => {
    expect(read({ 'server-name': '_' }).serverNames).toEqual(['_'])
    expect(read({ 'server-name': '*.example.com .example.org example.*' }).serverNames).toEqual([
      '*.example.com',
      '.example.org',
      'example.*'
    ])
  })

  test.each([
    '~^(www\\.)?example\\.com$',
    'a;b',
    'example.com;',
    'exa mple.com\nx',
    'example.com/path',
    '*.*.example.com',
    'ех.com'
  ])('%s is refused', (text) => {
    expectRejected({ 'server-name': text }, Input.ServerName)
  })

  test('a regular expression: the message says what a server name is', () => {
    expectRejected(
      { 'server-name': '~^www\\.' },
      Input.ServerName,
      /is not a server name/,
      /\*\.example\.com/
    )
  })
})

describe('listen', () => {
  test.each([
    ['80', { port: 80 }],
    ['8080', { port: 8080 }],
    ['127.0.0.1:8080', { address: '127.0.0.1', port: 8080 }],
    ['[::1]:80', { address: '[::1]', port: 80 }],
    ['localhost:8000', { address: 'localhost', port: 8000 }]
  ])('%s', (text, listen) => {
    expect(read({ listen: text }).listen).toEqual(listen)
  })

  test.each(['0', '70000', '127.0.0.1:0'])('%s is refused', (text) => {
    expectRejected({ listen: text }, Input.Listen, /must be from 1 to 65535/)
  })

  test.each([
    ':80',
    '80;',
    '127.0.0.1',
    '::1:80',
    '[::1]',
    'unix:/run/x.sock',
    '80 default_server'
  ])('%s is refused', (text) => {
    expectRejected({ listen: text }, Input.Listen, /port \(80\) or address:port/)
  })
})

describe('static and media', () => {
  test('urls get their slashes, roots lose the trailing one', () => {
    const s = read({
      'static-url': '/static',
      'static-root': '/srv/mysite/static/',
      'media-url': '/media/uploads/',
      'media-root': '/srv/mysite/shared/media'
    })
    expect(s).toMatchObject({
      staticUrl: '/static/',
      staticRoot: '/srv/mysite/static',
      mediaUrl: '/media/uploads/',
      mediaRoot: '/srv/mysite/shared/media'
    })
  })

  test.each([
    [Input.StaticUrl, 'static/'],
    [Input.StaticUrl, '/'],
    [Input.StaticUrl, '/static/../'],
    [Input.StaticUrl, 'https://cdn.example.com/static/'],
    [Input.MediaUrl, '/media files/'],
    [Input.MediaUrl, '/media/./x/'],
    [Input.MediaUrl, '~/media/']
  ])('%s %s is refused', (input, text) => {
    expectRejected({ [input]: text }, input, /URL path like \/static\//)
  })

  test.each([
    [Input.StaticRoot, 'static', /absolute path/],
    [Input.StaticRoot, '/srv/mysite/../static', /without \.\./],
    [Input.MediaRoot, '/srv/my media', /absolute path/],
    [Input.MediaRoot, '/', /absolute path/],
    [Input.MediaRoot, '/srv/mysite', /holds deploy-path/],
    [Input.StaticRoot, '/srv/mysite/', /holds deploy-path/],
    [Input.StaticRoot, '/srv', /holds deploy-path/]
  ])('%s %s is refused', (input, text, says) => {
    expectRejected({ [input]: text }, input, says)
  })

  const ROOTS = 'use one below /srv/mysite, /srv, /opt, /var/www, /var/lib/mysite'

  test.each([
    '/etc',
    '/etc/nginx',
    '/etc/ssl/private',
    '/root/.ssh',
    '/var',
    '/var/www',
    '/var/lib',
    '/var/lib/postgresql',
    '/var/lib/other/media',
    '/var/lib/mysite',
    '/var/log/nginx',
    '/home/deploy/media',
    '/usr/share/nginx/html',
    '/tmp/media',
    '/opt',
    '/run/media'
  ])('%s is not in the allow-list', (text) => {
    for (const input of [Input.StaticRoot, Input.MediaRoot]) {
      const error = expectRejected({ [input]: text }, input)
      expect(error.message).toBe(
        `Input '${input}': ${text} is not a folder the action may hand to the app user: ${ROOTS}`
      )
    }
  })

  test.each([
    '/srv/mysite/releases',
    '/srv/mysite/releases/20261125T081500Z-1a2b3c4',
    '/srv/mysite/venvs',
    '/srv/mysite/venvs/0123456789abcdef/lib',
    '/srv/mysite/current',
    '/srv/mysite/shared',
    '/srv/mysite/.deploy',
    '/srv/mysite/.deploy/previous',
    '/srv/mysite/current/.venv',
    '/srv/mysite/shared/.env'
  ])('%s is a folder the deploy keeps', (text) => {
    for (const input of [Input.StaticRoot, Input.MediaRoot]) {
      expectRejected(
        { [input]: text },
        input,
        /a folder the deploy keeps/,
        /\/srv\/mysite\/shared\/media/
      )
    }
  })

  test.each([
    ['/srv/mysite/static', {}],
    ['/srv/mysite/shared/media', {}],
    ['/srv/mysite/current/staticfiles', {}],
    ['/srv/mysite/releases/20261125T081500Z-1a2b3c4/staticfiles', {}],
    ['/srv/static/mysite', {}],
    ['/opt/mysite-media', {}],
    ['/var/www/mysite/static', {}],
    ['/var/lib/mysite/media', {}],
    ['/var/lib/web/media', { 'app-user': 'web' }],
    ['/home/deploy/mysite/media', { 'deploy-path': '/home/deploy/mysite' }]
  ])('%s is allowed', (text, more: Record<string, string>) => {
    const s = read({ ...more, 'static-root': text, 'media-root': text })
    expect([s.staticRoot, s.mediaRoot]).toEqual([text, text])
  })
})

describe('client-max-body-size', () => {
  test.each(['10m', '512k', '0', '1G', '100'])('%s', (text) => {
    expect(read({ 'client-max-body-size': text }).clientMaxBodySize).toBe(text)
  })

  test.each(['10 m', '10mb', '-1', '1.5m', '10m;', '1t'])('%s is refused', (text) => {
    expectRejected(
      { 'client-max-body-size': text },
      Input.ClientMaxBodySize,
      /a size like 10m, 512k or 0/
    )
  })
})

describe('nginx-directives', () => {
  test('directives, trimmed', () => {
    const text = '  add_header X-Frame-Options DENY;  \r\ngzip on;\n\n'
    expect(read({ 'nginx-directives': text }).nginxDirectives).toBe(
      'add_header X-Frame-Options DENY;\ngzip on;'
    )
  })

  test.each([
    [
      'a nested location block',
      'location /api/ {\n    proxy_read_timeout 300;\n    location /api/upload/ { client_max_body_size 100m; }\n}'
    ],
    ['an if block', 'if ($request_method = POST) { return 405; }'],
    ['braces inside double quotes', 'add_header X-Test "}{ }";'],
    ['braces inside single quotes', "add_header X-Test '}';"],
    ['an escaped quote inside quotes', 'add_header X-Test "a\\"}";'],
    ['braces inside a comment', 'gzip on; # }\n# {'],
    ['a comment at the end', 'gzip on; # the end'],
    ['a ${variable}', 'set $a 1;\nadd_header X-A ${a}1;'],
    ['a brace inside a word', 'add_header X-A a}b;'],
    ['a regex location', 'location ~* \\.(png|jpg)$ { expires 7d; }']
  ])('%s is accepted', (_name, text) => {
    expect(read({ 'nginx-directives': text }).nginxDirectives).toBe(text)
  })

  test.each([
    [
      'a } that closes the server block',
      'gzip on;\n}\nserver { listen 8080; }',
      /closes more blocks than it opens/
    ],
    ['a } first', '}', /closes more blocks/],
    ['an unclosed {', 'location /x/ {\n    gzip on;', /'\{' that is never closed/],
    ['a missing ;', 'gzip on', /must end with ';' or '\}'/],
    ['a missing ; before a }', 'location /x/ { gzip on }', /not finished/],
    ['an unclosed quote', 'add_header X "abc;', /unclosed quote/],
    ['a control character', 'gzip on;\u0007', /control character/],
    // nginx starts a comment or a string only at the start of a word: a '#' or a quote inside a
    // word must not hide a '}' from the check.
    [
      'a # inside a word hiding a }',
      'return 200 a#;}\nserver { listen 8081; return 200 x; add_header X a};',
      /closes more blocks/
    ],
    [
      "a ' inside a word hiding a }",
      "add_header X a'b;}\nserver { listen 8081; add_header Y c'd;",
      /closes more blocks/
    ],
    ['a line that ends with \\', 'add_header X a\\\n};', /ends with \\/],
    ['a line that ends with \\ and spaces', 'add_header X a\\   \n#;}', /ends with \\/]
  ])('%s is refused', (_name, text, says) => {
    expectRejected({ 'nginx-directives': text }, Input.NginxDirectives, says)
  })
})

describe('tls', () => {
  const cert = '/etc/letsencrypt/live/example.com/fullchain.pem'
  const key = '/etc/letsencrypt/live/example.com/privkey.pem'

  test('both: set, and the environment url is https', () => {
    const s = read({
      'tls-certificate': cert,
      'tls-certificate-key': key,
      'server-name': 'example.com'
    })
    expect(s.tlsCertificate).toBe(cert)
    expect(s.tlsCertificateKey).toBe(key)
    expect(s.environmentUrl).toBe('https://example.com')
  })

  test('one without the other names the missing one', () => {
    expectRejected(
      { 'tls-certificate': cert },
      Input.TlsCertificateKey,
      /go together: set both or neither/
    )
    expectRejected({ 'tls-certificate-key': key }, Input.TlsCertificate, /go together/)
  })

  test('a relative path', () => {
    expectRejected(
      { 'tls-certificate': 'fullchain.pem', 'tls-certificate-key': key },
      Input.TlsCertificate,
      /absolute path/
    )
  })
})

describe('health', () => {
  test.each([
    '/healthz',
    '/',
    '/health/ready/',
    '/health?full=1&db=yes',
    '/a%20b',
    '/api/v1/ping:check'
  ])('health-path %s', (text) => {
    expect(read({ 'health-path': text }).healthPath).toBe(text)
  })

  test.each([
    'healthz',
    'http://example.com/healthz',
    '/a b',
    '/../etc/passwd',
    '/x/./y',
    '/x/..',
    '/$(id)',
    "/it's",
    '/%zz',
    '/a;b'
  ])('health-path %s is refused', (text) => {
    expectRejected({ 'health-path': text }, Input.HealthPath, /URL path starting with \//)
  })

  test.each([
    ['200', [{ min: 200, max: 200 }]],
    [
      '200-399,404',
      [
        { min: 200, max: 399 },
        { min: 404, max: 404 }
      ]
    ],
    [
      '200-299 301 302',
      [
        { min: 200, max: 299 },
        { min: 301, max: 301 },
        { min: 302, max: 302 }
      ]
    ],
    ['100-599', [{ min: 100, max: 599 }]]
  ])('health-expect %s', (text, ranges) => {
    expect(read({ 'health-expect': text }).healthExpect).toEqual(ranges)
  })

  test.each(['399-200', '99', '600', '200-600', '2xx', 'ok', '200-', '-200', '200..299', '2000'])(
    'health-expect %s is refused',
    (text) => {
      expectRejected(
        { 'health-expect': text },
        Input.HealthExpect,
        /a status \(200\) or a range \(200-399\), from 100 to 599/
      )
    }
  )

  test('health-url', () => {
    expect(read({ 'health-url': 'https://example.com/healthz' }).healthUrl).toBe(
      'https://example.com/healthz'
    )
    expect(read({ 'health-url': 'http://192.0.2.7:8080/ping?x=1' }).healthUrl).toBe(
      'http://192.0.2.7:8080/ping?x=1'
    )
  })

  test.each([
    ['ftp://example.com/', /http:\/\/ or https:\/\//],
    ['javascript:alert(1)', /http:\/\/ or https:\/\//],
    ['example.com/healthz', /http:\/\/ or https:\/\//],
    ['https://', /not a URL/],
    ['https://user:secret@example.com/', /user name or password/],
    ['https://ехаmple.com/', /U\+0435/]
  ])('health-url %s is refused', (text, says) => {
    expectRejected({ 'health-url': text }, Input.HealthUrl, says)
  })
})

describe('environment-url', () => {
  test('default: http(s)://<first server name>', () => {
    expect(read({ 'server-name': 'example.com www.example.com' }).environmentUrl).toBe(
      'http://example.com'
    )
    expect(read({ 'server-name': '.example.com' }).environmentUrl).toBe('http://example.com')
  })

  test('default with the catch-all _ or a wildcard: the first host', () => {
    expect(read({ 'server-name': '_' }).environmentUrl).toBe('http://app1.example.com')
    expect(read({ 'server-name': '*.example.com' }).environmentUrl).toBe('http://app1.example.com')
  })

  test('default for an IPv6 host: in brackets', () => {
    expect(read({ host: '[2001:db8::10]:2222' }).environmentUrl).toBe('http://[2001:db8::10]')
  })

  test('of your own', () => {
    expect(read({ 'environment-url': 'https://staging.example.com/app/' }).environmentUrl).toBe(
      'https://staging.example.com/app/'
    )
  })

  test.each(['file:///etc/passwd', 'mailto:ops@example.com', 'not a url', '//example.com'])(
    '%s is refused',
    (text) => {
      expectRejected({ 'environment-url': text }, Input.EnvironmentUrl, /http:\/\/ or https:\/\//)
    }
  )
})

describe('environment, github-token, exclude', () => {
  test('environment: free text on one line', () => {
    expect(read({ environment: 'staging (eu)' }).environment).toBe('staging (eu)')
    expectRejected({ environment: 'a\nb' }, Input.Environment, /single line/)
  })

  test('github-token: one token', () => {
    expect(read({ 'github-token': ' ghs_abc123 ' }).githubToken).toBe('ghs_abc123')
    const error = expectRejected(
      { 'github-token': 'ghs_abc\nX-Evil: 1' },
      Input.GithubToken,
      /one token/
    )
    expect(error.message).not.toContain('ghs_abc')
  })

  test('exclude: newline or comma separated patterns, added to the defaults', () => {
    expect(read({ exclude: '.git\nmedia/, *.sqlite3, !node_modules' }).exclude).toEqual([
      '__pycache__',
      '*.pyc',
      '.venv',
      'node_modules',
      '.git',
      'media/',
      '*.sqlite3',
      '!node_modules'
    ])
    expectRejected({ exclude: 'a'.repeat(300) }, Input.Exclude, /not a glob pattern/)
  })
})

describe('max-parallel', () => {
  test('capped at the number of hosts', () => {
    expect(read({ host: 'a.example.com,b.example.com', 'max-parallel': '5' }).maxParallel).toBe(2)
    expect(
      read({ host: 'a.example.com,b.example.com,c.example.com', 'max-parallel': '2' }).maxParallel
    ).toBe(2)
    expect(read({ 'max-parallel': '10' }).maxParallel).toBe(1)
  })
})

describe('backup, restore-database, force', () => {
  test('a backup by default; restore-database and force off', () => {
    expect(read()).toMatchObject({ backup: true, restoreDatabase: false, force: false })
    expect(read({ backup: 'false' }).backup).toBe(false)
  })

  test('restore-database only with rollback: true', () => {
    expect(failure({ 'restore-database': 'true' }).message).toMatch(
      /^Input 'restore-database': true is allowed only with rollback: true/
    )
    expect(
      read({ 'restore-database': 'true', rollback: 'true', source: 'none', force: 'true' })
    ).toMatchObject({ restoreDatabase: true, force: true })
  })
})

describe('secretValues', () => {
  test('the key (and each long line of it), passphrase, password, token and long dotenv values', () => {
    const s = read({
      key: keys.encrypted,
      passphrase: PASSPHRASE,
      password: 'hunter2-password',
      'github-token': 'ghs_0123456789abcdef',
      dotenv: 'DEBUG=0\nSECRET_KEY=django-insecure-0123456789\nNAME=abc\nPIN=1234'
    })
    const secrets = secretValues(s)
    expect(secrets).toEqual(
      expect.arrayContaining([
        keys.encrypted.trim() + '\n',
        PASSPHRASE,
        'hunter2-password',
        'ghs_0123456789abcdef',
        'django-insecure-0123456789',
        '1234'
      ])
    )
    // Each line of the key's body too, should a tool print the key line by line.
    const body = keys.encrypted
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('-----'))
    expect(body.length).toBeGreaterThan(1)
    for (const line of body.filter((l) => l.length >= 16)) expect(secrets).toContain(line)
    // Short values would mask every '0' and 'abc' in the log.
    expect(secrets).not.toContain('0')
    expect(secrets).not.toContain('abc')
    expect(secrets).not.toContain('')
  })

  test("dotenv: by what is secret; the site's name, hosts and flags stay readable", () => {
    const s = read({
      dotenv: [
        'DJANGO_SECRET_KEY=django-insecure-0123456789',
        'EMAIL_HOST_PASSWORD=mail-password',
        'GITHUB_TOKEN_X=token-value',
        'SENTRY_DSN=https://abcdef@o1.ingest.example/2',
        'DATABASE_URL=postgres://shop:db-password@db.internal:5432/shop',
        'REDIS_URL=redis://localhost:6379/0',
        'DJANGO_ALLOWED_HOSTS=shop.example,www.shop.example',
        'SITE_NAME=shop.example',
        'DJANGO_DEBUG=False',
        'SHIPPING_ZONE=europe'
      ].join('\n')
    })
    const secrets = secretValues(s)
    expect(secrets).toEqual(
      expect.arrayContaining([
        'django-insecure-0123456789',
        'mail-password',
        'token-value',
        'https://abcdef@o1.ingest.example/2',
        'postgres://shop:db-password@db.internal:5432/shop',
        'db-password'
      ])
    )
    for (const shown of [
      'shop.example',
      'shop.example,www.shop.example',
      'redis://localhost:6379/0',
      'False',
      'europe'
    ])
      expect(secrets).not.toContain(shown)
  })

  test("the summary's redaction keeps the site's name and masks the secret key", () => {
    const s = read({
      dotenv: 'DJANGO_SECRET_KEY=django-insecure-0123456789\nDJANGO_ALLOWED_HOSTS=shop.example'
    })
    expect(redactor(s)('https://shop.example/ uses django-insecure-0123456789')).toBe(
      'https://shop.example/ uses ***'
    )
  })

  test('nothing unset is registered', () => {
    const s = read({ 'github-token': '' })
    expect(secretValues(s).every((v) => typeof v === 'string' && v.length > 0)).toBe(true)
  })
})

describe('every input of action.yml is read here', () => {
  test('action.yml and the Input names agree', () => {
    const yml = readFileSync(join(__dirname_(), '..', 'action.yml'), 'utf8')
    const section = yml.slice(yml.indexOf('\ninputs:'), yml.indexOf('\noutputs:'))
    const declared = [...section.matchAll(/^ {2}([a-z][a-z0-9-]*):\s*$/gm)].map((m) => m[1]).sort()
    expect(declared).toEqual(Object.values(Input).sort())
  })

  test('each input is asked for', () => {
    const asked = new Set<string>()
    const ctx = inputs()
    readSettings({ ...ctx, getInput: (name) => (asked.add(name), ctx.getInput(name)) })
    expect([...asked].sort()).toEqual(Object.values(Input).sort())
  })
})

function __dirname_(): string {
  return join(process.cwd(), '__tests__')
}
