// Issue #6 "Secure by default", end to end: the action run as a runner runs it, against real
// Debian hosts. Host keys are pinned (and refused before logging in), every key type logs in
// (RSA with rsa-sha2 only), each failure names its stage, cause and next step, a jump host is
// checked like any host, secrets reach neither the log nor the runner's disk, hostile inputs
// never reach the host, and the service it installs is sandboxed.
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import {
  checksums,
  deployInputs,
  edit,
  get,
  health,
  liveService,
  sshdLinesAfter,
  workspaceWith
} from './fixture.js'
import {
  bootHost,
  linkHosts,
  TEST_KEY_PASSPHRASE,
  type ExecResult,
  type TestHost
} from './testhost.js'

let a: TestHost
let b: TestHost

beforeAll(async () => {
  ;[a, b] = await Promise.all([bootHost('sec-a'), bootHost('sec-b')])
  // Debug level: sshd logs every connection, the host key algorithm it signed with and every
  // login attempt, which is what proves when a run stopped.
  await sshdDropIn(a, '10-log', 'LogLevel DEBUG1\n')
})
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()])
})

// ---------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const read = (path: string) => readFileSync(path, 'utf8')
const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`

async function must(host: TestHost, cmd: string): Promise<ExecResult> {
  const result = await host.exec(cmd)
  if (result.code !== 0) {
    throw new Error(`${cmd} failed on ${host.name} (exit ${result.code}): ${result.stderr}`)
  }
  return result
}

/**
 * Restarts sshd after a change of its files; resolves once it listens again. (reset-failed: a
 * few tests in a row restart it more often than systemd's start limit allows.)
 */
const RESTART_SSHD =
  `sshd -t && systemctl reset-failed ssh && systemctl restart ssh && ` +
  `for i in $(seq 50); do ss -Hltn 'sport = :22' | grep -q . && break; sleep 0.1; done`

/** Writes an sshd drop-in and restarts sshd; resolves once it listens again. */
async function sshdDropIn(host: TestHost, name: string, text: string | null): Promise<void> {
  const file = `/etc/ssh/sshd_config.d/${name}.conf`
  await must(
    host,
    `${text === null ? `rm -f ${file}` : `printf '%s' ${quote(text)} > ${file}`} && ${RESTART_SSHD}`
  )
}

/** `to` offers `from`'s ed25519 host key (its own is kept aside for restoreHostKey). */
async function lendHostKey(from: TestHost, to: TestHost): Promise<void> {
  const key = '/etc/ssh/ssh_host_ed25519_key'
  const [secret, pub] = await Promise.all([must(from, `cat ${key}`), must(from, `cat ${key}.pub`)])
  await must(
    to,
    `mkdir -p /root/own-host-key && cp -n ${key} ${key}.pub /root/own-host-key/ && ` +
      `printf '%s' ${quote(secret.stdout)} > ${key} && printf '%s' ${quote(pub.stdout)} > ${key}.pub && ` +
      RESTART_SSHD
  )
}

async function restoreHostKey(host: TestHost): Promise<void> {
  await must(
    host,
    `cp /root/own-host-key/* /etc/ssh/ && rm -r /root/own-host-key && ${RESTART_SSHD}`
  )
}

/** A journal position: what a run did is read from the lines after it. */
async function journalCursor(host: TestHost): Promise<string> {
  const result = await must(host, 'journalctl --sync; journalctl -n 0 --show-cursor -q --no-pager')
  const cursor = /-- cursor: (\S+)/.exec(result.stdout)?.[1]
  if (!cursor) throw new Error(`no journal cursor on ${host.name}: ${result.stdout}`)
  return cursor
}

/** sshd's lines since the cursor (every sshd process, in any cgroup). */
async function sshdLog(host: TestHost, cursor: string): Promise<string> {
  // sshd logs a closed connection just after the client is gone.
  await sleep(500)
  return (await sshdLinesAfter(host, cursor)).map((line) => `${line}\n`).join('')
}

/** Any trace of a login attempt: user name, key, password or a session. */
const LOGIN_ATTEMPT =
  /userauth-request|Accepted |Failed |Postponed |Invalid user|pkalg|session opened/

/** The runner's end of a host's own link (10.231.N.1 for 10.231.N.2). */
const runnerSide = (host: TestHost) => host.address.replace(/\.2$/, '.1')

/** The `::error` annotations of a run, one per line. */
const errors = (run: ActionRun) =>
  run.stdout
    .split('\n')
    .filter((l) => l.startsWith('::error'))
    .join('\n')

/** The host's own key line (ed25519) under another name, as known_hosts writes it. */
const renamed = (host: TestHost, name: string) => host.knownHosts.replace(/^\S+/, name)

// ---------------------------------------------------------------------------------------------

describe('host key pinning', () => {
  test('a wrong fingerprint is refused before authentication, showing the offered key and ssh-keyscan', async () => {
    const { workspace } = workspaceWith('wrong-fingerprint')
    const cursor = await journalCursor(a)
    const run = await runAction(
      deployInputs(a, { 'known-hosts': '', fingerprint: `SHA256:${'A'.repeat(43)}` }),
      { workspace }
    )
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('failure')
    expect(errors(run)).toContain(`Host key check failed for ${a.address}:22`)
    expect(errors(run)).toContain(`the server offered ssh-ed25519 ${a.fingerprint}`)
    expect(errors(run)).toContain(`ssh-keyscan -p 22 ${a.address}`)
    expect(run.summary).toContain(a.fingerprint)

    // The connection reached sshd, and ended before any login attempt.
    const log = await sshdLog(a, cursor)
    expect(log).toMatch(
      new RegExp(`Connection from ${runnerSide(a)} port \\d+ on ${a.address} port 22`)
    )
    expect(log).not.toMatch(LOGIN_ATTEMPT)
  })

  test('a bare fingerprint lets no other host in where known-hosts names the host; host= pins its host', async () => {
    // b's key is pinned for a's address; a's own key only by a bare fingerprint, which counted
    // before known-hosts for every host. A known_hosts line for a host now always wins.
    const { workspace } = workspaceWith('bare-fingerprint')
    const cursor = await journalCursor(a)
    const run = await runAction(
      deployInputs(a, { 'known-hosts': renamed(b, a.address), fingerprint: a.fingerprint }),
      { workspace }
    )
    expect(run.code).toBe(1)
    expect(errors(run)).toContain(`Host key check failed for ${a.address}:22`)
    expect(errors(run)).toContain(
      `does not match the key pinned in known-hosts for ${a.address} (the host key changed, or this is not the host you meant); ` +
        'fingerprint pins it, but a known-hosts line for a host wins'
    )
    expect(await sshdLog(a, cursor)).not.toMatch(LOGIN_ATTEMPT)

    // The same fingerprint written for a's address, and no known_hosts line: a is let in.
    const own = await runAction(
      deployInputs(a, {
        'known-hosts': '',
        fingerprint: `${a.address}=${a.fingerprint}`,
        'dry-run': 'true'
      }),
      { workspace }
    )
    expect(errors(own)).toBe('')
    expect(own.stdout).toContain('Dry run: nothing was changed')

    // Written for a host that is not deployed to: refused before connecting.
    const cursor2 = await journalCursor(a)
    const typo = await runAction(
      deployInputs(a, { 'known-hosts': '', fingerprint: `${b.address}=${a.fingerprint}` }),
      { workspace }
    )
    expect(typo.stdout).toMatch(
      new RegExp(`^::error::Input 'fingerprint': '${b.address.replace(/\./g, '\\.')}=SHA256:`, 'm')
    )
    expect(await sshdLog(a, cursor2)).not.toMatch(/Connection from/)
  })

  test('no known-hosts, no fingerprint and no opt-out: refused before any connection', async () => {
    const cursor = await journalCursor(a)
    const run = await runAction(deployInputs(a, { 'known-hosts': '' }), {
      workspace: workspaceWith('no-pin').workspace
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^::error::Input 'known-hosts': no host key is pinned/m)
    expect(errors(run)).toContain('fingerprint')
    expect(errors(run)).toContain('ssh-keyscan')
    expect(await sshdLog(a, cursor)).not.toMatch(/Connection from/)
  })

  test('insecure-skip-host-key-check: true connects, with a warning that names the risk', async () => {
    const run = await runAction(
      deployInputs(a, {
        'known-hosts': '',
        'insecure-skip-host-key-check': 'true',
        'dry-run': 'true'
      }),
      { workspace: workspaceWith('insecure').workspace }
    )
    expect(run.code).toBe(0)
    expect(run.stdout).toMatch(
      /^::warning title=Host key not checked::insecure-skip-host-key-check is on: the host key is not checked, so anyone who can intercept the connection can impersonate the server/m
    )
    expect(run.stdout).toContain('Dry run: nothing was changed')
  })
})

describe('known-hosts forms', () => {
  const connects = async (host: string, knownHosts: string) => {
    const cursor = await journalCursor(a)
    const run = await runAction(
      deployInputs(a, { host, 'known-hosts': knownHosts, 'dry-run': 'true' }),
      { workspace: workspaceWith('forms').workspace }
    )
    return { run, log: await sshdLog(a, cursor) }
  }

  test('a hashed entry, as ssh-keygen -H writes it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dda-known-hosts-'))
    writeFileSync(join(folder, 'known_hosts'), `${a.knownHostsAll}\n`)
    execFileSync('ssh-keygen', ['-H', '-f', join(folder, 'known_hosts')], { stdio: 'ignore' })
    const hashed = read(join(folder, 'known_hosts')).trim()
    expect(hashed.split('\n')).toHaveLength(3)
    expect(hashed).not.toContain(a.address)
    hashed.split('\n').forEach((line) => expect(line).toMatch(/^\|1\|/))

    const { run } = await connects(a.address, hashed)
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Dry run: nothing was changed')
  })

  test.each([
    ['ssh-ed25519', 'ssh-ed25519'],
    ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp256'],
    // An RSA host key signs with SHA-2, never ssh-rsa's SHA-1.
    ['ssh-rsa', 'rsa-sha2-512']
  ])(
    'only the %s line of a host that has three keys: that key is asked for',
    async (type, algorithm) => {
      const line = a.knownHostsAll.split('\n').find((l) => l.split(' ')[1] === type)
      expect(line).toBeDefined()
      const { run, log } = await connects(a.address, line as string)
      expect(run.code).toBe(0)
      expect(log).toContain(`kex: host key algorithm: ${algorithm}`)
    }
  )

  test('every key type at once (as ssh-keyscan prints them)', async () => {
    const { run } = await connects(a.address, a.knownHostsAll)
    expect(run.code).toBe(0)
  })

  test('[host]:port for sshd on port 2222; a plain line does not pin that port', async () => {
    await sshdDropIn(a, '20-ports', 'Port 22\nPort 2222\n')
    try {
      const { run, log } = await connects(`${a.address}:2222`, renamed(a, `[${a.address}]:2222`))
      expect(run.code).toBe(0)
      expect(log).toMatch(
        new RegExp(`Connection from ${runnerSide(a)} port \\d+ on ${a.address} port 2222`)
      )

      const plain = await connects(`${a.address}:2222`, a.knownHosts)
      expect(plain.run.code).toBe(1)
      expect(errors(plain.run)).toContain(`known-hosts has no line for [${a.address}]:2222`)
      expect(errors(plain.run)).toContain(`ssh-keyscan -p 2222 ${a.address}`)
    } finally {
      await sshdDropIn(a, '20-ports', null)
    }
  })
})

describe('client keys: each type deploys', () => {
  const keyText = (type: keyof TestHost['keys']) => read(a.keys[type])

  const deployWith = async (
    version: string,
    inputs: Record<string, string>,
    user: 'root' | 'deploy' = 'root'
  ) => {
    const cursor = await journalCursor(a)
    const run = await runAction(deployInputs(a, inputs, user), {
      workspace: workspaceWith(version).workspace
    })
    const log = await sshdLog(a, cursor)
    expect(errors(run)).toBe('')
    expect(run.code).toBe(0)
    const page = await health(a)
    expect(page.version).toBe(version)
    expect(page.release).toBe(run.outputs.release)
    return log
  }

  test('ed25519', async () => {
    const log = await deployWith('key-ed25519', { key: keyText('ed25519') })
    expect(log).toMatch(/Accepted publickey for root from .* ssh2: ED25519 SHA256:/)
  })

  test('ecdsa (as the deploy user, through sudo -n)', async () => {
    const log = await deployWith('key-ecdsa', { key: keyText('ecdsa') }, 'deploy')
    expect(log).toMatch(/Accepted publickey for deploy from .* ssh2: ECDSA SHA256:/)
  })

  test('rsa, signing with rsa-sha2 against an sshd that refuses ssh-rsa (SHA-1) signatures', async () => {
    await sshdDropIn(a, '30-no-sha1', 'PubkeyAcceptedAlgorithms -ssh-rsa\n')
    try {
      const accepted = (await must(a, 'sshd -T | grep -i ^pubkeyacceptedalgorithms')).stdout
      expect(accepted.trim().split(/[ ,]/)).not.toContain('ssh-rsa')
      expect(accepted).toContain('rsa-sha2-256')

      const log = await deployWith('key-rsa', { key: keyText('rsa') })
      expect(log).toMatch(/Accepted publickey for root from .* ssh2: RSA SHA256:/)
      expect(log).toMatch(/pkalg rsa-sha2-(256|512) /)
      expect(log).not.toMatch(/pkalg ssh-rsa /)
    } finally {
      await sshdDropIn(a, '30-no-sha1', null)
    }
  })

  test('an encrypted ed25519 key with its passphrase', async () => {
    const log = await deployWith('key-encrypted', {
      key: keyText('ed25519Encrypted'),
      passphrase: TEST_KEY_PASSPHRASE
    })
    expect(log).toMatch(/Accepted publickey for root from .* ssh2: ED25519 SHA256:/)
  })

  test.each([
    ['without its passphrase', '', /^::error::Input 'key': is encrypted: set passphrase/m],
    [
      'with a wrong passphrase',
      'not-the-passphrase',
      /^::error::Input 'passphrase': does not decrypt the key/m
    ]
  ])('an encrypted key %s fails clearly, before connecting', async (_name, passphrase, says) => {
    const cursor = await journalCursor(a)
    const run = await runAction(deployInputs(a, { key: keyText('ed25519Encrypted'), passphrase }), {
      workspace: workspaceWith('key-no-passphrase').workspace
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(says)
    expect(await sshdLog(a, cursor)).not.toMatch(/Connection from/)
  })
})

describe('errors name their stage, cause and next step', () => {
  const fails = async (inputs: Record<string, string>, options: { wrapper?: string[] } = {}) => {
    const started = Date.now()
    const run = await runAction(deployInputs(a, inputs), {
      workspace: workspaceWith('errors').workspace,
      ...options
    })
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('failure')
    return { run, message: errors(run), ms: Date.now() - started }
  }

  test('name resolution: a name that does not resolve', async () => {
    // In a network namespace of its own with no network at all, so no query leaves the machine.
    const { message } = await fails(
      { host: 'no-such-host.invalid' },
      { wrapper: ['unshare', '--net'] }
    )
    expect(message).toMatch(
      /cannot resolve the host name of no-such-host\.invalid:22 \((ENOTFOUND|EAI_AGAIN)[^)]*\)\. Check its spelling.*use the IP address/
    )
  })

  test('connection refused: nothing listens on the port', async () => {
    const { message } = await fails({ host: `${a.address}:2223` })
    expect(message).toContain(
      `connection to ${a.address}:2223 refused: nothing listens on port 2223 there. Is sshd running`
    )
  })

  test('timed out: the host drops the packets', async () => {
    // A blackhole route on the host for the runner's end: SYN in, no answer out. No firewall
    // needed, and no other address is contacted.
    await must(a, `ip route add blackhole ${runnerSide(a)}/32`)
    try {
      const { message, ms } = await fails({ timeout: '2' })
      expect(message).toMatch(
        new RegExp(
          `connecting to ${a.address}:22 timed out after 2 s: no answer at all.*firewall.*Raise timeout`
        )
      )
      expect(ms).toBeLessThan(20000)
    } finally {
      await must(a, `ip route del blackhole ${runnerSide(a)}/32`)
    }
  })

  test('not an SSH server: the port answers, but not in SSH', async () => {
    const { message } = await fails({ host: `${a.address}:80`, timeout: '3' })
    expect(message).toContain(`${a.address}:80 accepted the connection but`)
    expect(message).toContain('Is port 80 the port sshd listens on?')
  })

  test('host key: a line for another key', async () => {
    const { message } = await fails({ 'known-hosts': renamed(b, a.address) })
    expect(message).toContain(`Host key check failed for ${a.address}:22`)
    expect(message).toContain(`does not match the key pinned in known-hosts for ${a.address}`)
    expect(message).toContain('no user name, key or password was sent')
  })

  test('authentication: a key that is not authorized', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dda-key-'))
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(folder, 'id')])
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', join(folder, 'id.pub')])
      .toString()
      .split(' ')[1]
    const { message } = await fails({ key: read(join(folder, 'id')) })
    expect(message).toContain(
      `authentication as root on ${a.address}:22 failed: the server did not accept the key ssh-ed25519 ${fingerprint}`
    )
    expect(message).toContain('to ~root/.ssh/authorized_keys on the server')
  })

  test('sudo asks for a password (user nopass)', async () => {
    const { message, ms } = await fails({ username: 'nopass' })
    expect(message).toMatch(/sudo on nopass@\S+ asks for a password.*NOPASSWD/)
    expect(ms).toBeLessThan(30000)
  })

  test('command timeout: a step longer than command-timeout is stopped, nothing is switched', async () => {
    const live = (await must(a, 'readlink /srv/mysite/current')).stdout
    const { message } = await fails({ 'command-timeout': '1', 'pre-restart': 'sleep 5' })
    // Whichever step passes 1 s first (the venv, migrate or pre-restart's sleep 5) is stopped.
    expect(message).toMatch(
      new RegExp(
        // The error names the step that ran out of time, then the host and the limit.
        `[A-Za-z][^\\n]*[a-z)]: ` +
          `a step on root@${a.address} took longer than 1 s and was stopped \\(raise command-timeout\\)`
      )
    )
    expect((await must(a, 'readlink /srv/mysite/current')).stdout).toBe(live)
    expect((await a.exec('pgrep -x sleep')).stdout).toBe('')
    expect((await health(a)).status).toBe('ok')
  })
})

describe('jump-host', () => {
  let bFromA = ''
  const workspace = () => workspaceWith('through-bastion').workspace

  beforeAll(async () => {
    bFromA = await linkHosts(a, b)
  })

  test('deploys to a host only the bastion reaches, both host keys pinned', async () => {
    const knownHosts = `${a.knownHosts}\n${renamed(b, bFromA)}`
    const [cursorA, cursorB] = await Promise.all([journalCursor(a), journalCursor(b)])
    const run = await runAction(
      deployInputs(b, {
        host: bFromA,
        'jump-host': `root@${a.address}:22`,
        'known-hosts': knownHosts
      }),
      { workspace: workspace() }
    )
    expect(errors(run)).toBe('')
    expect(run.code).toBe(0)
    expect((await health(b)).release).toBe(run.outputs.release)

    // The bastion logged in the runner and opened the channel to b; b saw only the bastion.
    const logA = await sshdLog(a, cursorA)
    expect(logA).toMatch(new RegExp(`Accepted publickey for root from ${runnerSide(a)} `))
    expect(logA).toMatch(new RegExp(`target ${bFromA.replace(/\./g, '\\.')} port 22`))
    const logB = await sshdLog(b, cursorB)
    expect(logB).toMatch(
      new RegExp(`Accepted publickey for root from ${bFromA.replace(/\.2$/, '.1')} `)
    )
    expect(logB).not.toContain(runnerSide(b))
  })

  test('a wrong bastion key is refused, and the error names the jump host', async () => {
    const cursorB = await journalCursor(b)
    const run = await runAction(
      deployInputs(b, {
        host: bFromA,
        'jump-host': `root@${a.address}:22`,
        // b's key under a's name: a offers its own.
        'known-hosts': `${renamed(b, a.address)}\n${renamed(b, bFromA)}`
      }),
      { workspace: workspace() }
    )
    expect(run.code).toBe(1)
    expect(errors(run)).toContain(`Host key check failed for jump host ${a.address}:22`)
    expect(errors(run)).toContain(`the server offered ssh-ed25519 ${a.fingerprint}`)
    expect(await sshdLog(b, cursorB)).not.toMatch(/Accepted|Connection from/)
  })

  test("the target's key is checked too, behind the bastion", async () => {
    const run = await runAction(
      deployInputs(b, {
        host: bFromA,
        'jump-host': `root@${a.address}:22`,
        'known-hosts': `${a.knownHosts}\n${renamed(a, bFromA)}`
      }),
      { workspace: workspace() }
    )
    expect(run.code).toBe(1)
    expect(errors(run)).toContain(
      `Host key check failed for ${bFromA}:22 (through the jump host ${a.address})`
    )
    expect(errors(run)).toContain(`run \`ssh-keyscan -p 22 ${bFromA}\` on the jump host`)
  })

  test.each([
    ['a bare fingerprint', () => a.fingerprint],
    ['a fingerprint written for it', () => `${a.address}=${a.fingerprint}`]
  ])(
    "a fleet with a jump host pinned by %s: the jump host's key presented by an app host is refused",
    async (_name, fingerprint) => {
      // b (the app host, pinned in known-hosts) offers the jump host's own ed25519 key, as a
      // jump host or fleet member that took over b's address would.
      await lendHostKey(a, b)
      try {
        await sshdDropIn(b, '10-log', 'LogLevel DEBUG1\n')
        const cursorB = await journalCursor(b)
        const run = await runAction(
          deployInputs(b, {
            host: bFromA,
            'jump-host': `root@${a.address}:22`,
            'known-hosts': renamed(b, bFromA),
            fingerprint: fingerprint()
          }),
          { workspace: workspace() }
        )
        expect(run.code).toBe(1)
        expect(errors(run)).toContain(
          `Host key check failed for ${bFromA}:22 (through the jump host ${a.address}): the server offered ssh-ed25519 ${a.fingerprint}`
        )
        expect(errors(run)).toContain(`does not match the key pinned in known-hosts for ${bFromA}`)
        // b's sshd saw the connection (through the jump host) and no login attempt.
        const logB = await sshdLog(b, cursorB)
        expect(logB).toMatch(new RegExp(`Connection from ${bFromA.replace(/\.2$/, '.1')} `))
        expect(logB).not.toMatch(LOGIN_ATTEMPT)
      } finally {
        await restoreHostKey(b)
      }
    }
  )

  test('the link between the hosts goes when one of them stops', async () => {
    expect((await must(a, 'ip -br link')).stdout).toMatch(/^ddal\d+a/m)
    await b.stop()
    expect((await must(a, 'ip -br link')).stdout).not.toMatch(/^ddal/m)
  })
})

describe('secrets', () => {
  const dotenvSecret = randomBytes(24).toString('hex')
  const dotenvMessage = `dotenv-${randomBytes(8).toString('hex')}`
  const password = `pw-${randomBytes(12).toString('hex')}`

  /** Every secret of the run, and each line of the key on its own. */
  const secrets = () => {
    const key = read(a.keys.ed25519Encrypted)
    const keyLines = key.split('\n').filter((l) => l.length >= 16 && !l.startsWith('-----'))
    expect(keyLines.length).toBeGreaterThan(2)
    return {
      key,
      values: [key.trim(), ...keyLines, TEST_KEY_PASSPHRASE, password, dotenvSecret]
    }
  }

  const inputs = (overrides: Record<string, string> = {}) =>
    deployInputs(a, {
      key: secrets().key,
      passphrase: TEST_KEY_PASSPHRASE,
      password,
      dotenv: `SECRET_KEY=${dotenvSecret}\nFIXTURE_MESSAGE=${dotenvMessage}\nDJANGO_DEBUG=0`,
      ...overrides
    })

  /** The lines, outputs and summary a user can see, without the runner's ::add-mask:: commands. */
  const visible = (run: ActionRun) =>
    [
      ...[run.stdout, run.stderr]
        .flatMap((t) => t.split('\n'))
        .filter((l) => !l.startsWith('::add-mask::')),
      ...Object.values(run.outputs),
      run.summary
    ].join('\n')

  /** Every file under the folders, as text. */
  const filesUnder = (folders: string[]): Array<[string, string]> =>
    folders.flatMap((folder) =>
      readdirSync(folder, { recursive: true })
        .map((entry) => join(folder, String(entry)))
        .filter((path) => statSync(path).isFile())
        .map((path): [string, string] => [path, read(path)])
    )

  test('never in the log, the outputs or the summary, nor on the runner’s disk; masked for the runner', async () => {
    const fresh = (name: string) => mkdtempSync(join(tmpdir(), `dda-secrets-${name}-`))
    const [home, temp, runnerTemp] = [fresh('home'), fresh('tmp'), fresh('runner-temp')]
    const { workspace } = workspaceWith('secrets')
    const cursor = await journalCursor(a)
    const env = { HOME: home, TMPDIR: temp, RUNNER_TEMP: runnerTemp }

    const good = await runAction(inputs(), { workspace, env })
    expect(errors(good)).toBe('')
    expect(good.code).toBe(0)
    // The app got them: they were delivered, not dropped.
    expect((await health(a)).env).toBe(dotenvMessage)
    expect((await must(a, 'cat /srv/mysite/.deploy/env')).stdout).toContain(dotenvSecret)
    // The key was accepted first: the password was never sent.
    expect(await sshdLog(a, cursor)).not.toMatch(/method password|Failed password/)

    const failing = inputs({ 'pre-restart': 'echo "pre-restart says no" >&2; exit 3' })
    const bad = await runAction(failing, { workspace, env })
    expect(bad.code).toBe(1)
    expect(bad.summary).toContain('pre-restart says no')

    const { values } = secrets()
    for (const run of [good, bad]) {
      // The runner is told to mask each one.
      const masks = run.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'))
      for (const value of [TEST_KEY_PASSPHRASE, password, dotenvSecret]) {
        expect(masks).toContain(`::add-mask::${value}`)
      }
      // A dotenv value whose name says nothing secret stays readable (a host name, a flag).
      expect(masks).not.toContain(`::add-mask::${dotenvMessage}`)
      const seen = visible(run)
      for (const value of values) expect(seen.includes(value)).toBe(false)
    }

    const files = filesUnder([home, temp, runnerTemp, workspace])
    expect(files.length).toBeGreaterThan(0) // the workspace at least
    for (const [path, text] of files) {
      for (const value of values) {
        if (text.includes(value)) throw new Error(`${path} holds a secret`)
      }
    }
  })
})

describe('hostile inputs never reach the host', () => {
  const mark = `/tmp/dda-pwned-${process.pid}`
  const HOSTILE: Array<[string, string]> = [
    ['project-name', `a;touch ${mark}`],
    ['project-name', `$(touch ${mark})`],
    ['project-name', '../../etc'],
    ['project-name', 'x\nListenStream=0.0.0.0:1'],
    ['deploy-path', `/srv/x;touch ${mark}`],
    ['deploy-path', `/srv/$(touch ${mark})`],
    ['deploy-path', '../../etc'],
    ['deploy-path', '/srv/x\nListenStream=0.0.0.0:1'],
    ['server-name', `example.com;touch ${mark}`],
    ['server-name', `$(touch ${mark})`],
    ['server-name', 'example.com}'],
    ['app-user', `a;touch ${mark}`],
    ['app-user', `$(touch ${mark})`],
    ['app-user', '../../etc'],
    ['app-user', 'root'],
    ['gunicorn-args', `--timeout 30;touch ${mark}`],
    ['gunicorn-args', `--name $(touch ${mark})`],
    ['gunicorn-args', '--timeout 30\nListenStream=0.0.0.0:1'],
    ['gunicorn-args', '--log-file ../../etc/passwd'],
    ['gunicorn-args', '--bind 0.0.0.0:8000'],
    // `}` closes the action's server block: what follows would be a server of its own.
    ['nginx-directives', '}\nserver { listen 8081; location / { return 200 "pwned"; } }\nserver {'],
    ['nginx-directives', 'add_header X-A b; } server { listen 8082; return 200 "pwned";'],
    ['dotenv', `A;touch ${mark}=1`],
    ['dotenv', `$(touch ${mark})=1`],
    ['dotenv', '../../etc=1'],
    ['dotenv', 'x\nListenStream=0.0.0.0:1']
  ]
  const FOLDERS = ['/srv', '/etc/nginx', '/etc/systemd/system']

  const inputs = new Set(HOSTILE.map(([input]) => input)).size
  test(`${HOSTILE.length} hostile values in ${inputs} inputs: each refused before connecting, nothing written`, async () => {
    // A deploy before, so there is something to change.
    const before = await checksums(a, FOLDERS)
    expect(before).toContain('/srv/mysite/shared/')
    const cursor = await journalCursor(a)
    const { workspace } = workspaceWith('hostile')

    for (const [input, value] of HOSTILE) {
      const run = await runAction(deployInputs(a, { [input]: value }), { workspace })
      const what = `${input}=${JSON.stringify(value)}`
      expect({ what, code: run.code }).toEqual({ what, code: 1 })
      expect({ what, error: errors(run).split('\n')[0] }).toEqual({
        what,
        error: expect.stringMatching(new RegExp(`^::error::Input '${input}': `))
      })
    }

    expect(await sshdLog(a, cursor)).not.toMatch(/Connection from/)
    expect(await checksums(a, FOLDERS)).toBe(before)
    expect((await a.exec(`ls ${mark}`)).code).not.toBe(0)
    expect(existsSync(mark)).toBe(false)
  })
})

describe('the service is sandboxed', () => {
  const exposure = async (unit: string) => {
    const out = (await must(a, `systemd-analyze security --no-pager ${unit}`)).stdout
    const match = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(out)
    if (!match) throw new Error(`no exposure level in: ${out}`)
    return { score: Number(match[1]), verdict: match[2] }
  }

  test('systemd-analyze security ≤ 2.0 while the app serves, migrates and writes media; code read-only, .env private', async () => {
    // A view that writes a media file and a row: done by the service itself, in its sandbox.
    const { workspace, project } = workspaceWith('sandboxed')
    edit(
      project,
      'notes/views.py',
      (text) => `${text}
def media_probe(request):
    name = 'probe-%s.txt' % Path(settings.BASE_DIR).resolve().name
    (Path(settings.MEDIA_ROOT) / name).write_text('written by the service\\n')
    Note.objects.create(text='probe')
    return JsonResponse({'file': name})
`
    )
    edit(project, 'mysite/urls.py', (text) =>
      text.replace("path('boom'", "path('media-probe', views.media_probe),\n    path('boom'")
    )
    const run = await runAction(deployInputs(a, { dotenv: 'FIXTURE_MESSAGE=sandboxed' }), {
      workspace
    })
    expect(errors(run)).toBe('')
    expect(run.code).toBe(0)

    const ours = await exposure(await liveService(a))
    expect(ours.score).toBeLessThanOrEqual(2.0)

    // Serves, has migrated (the notes query needs the table), loaded .env.
    const notes = async () =>
      (JSON.parse((await get(a, '/healthz')).text) as { notes: number }).notes
    expect(await health(a)).toMatchObject({ status: 'ok', version: 'sandboxed', env: 'sandboxed' })
    const before = await notes()
    expect(typeof before).toBe('number')
    expect((await must(a, 'stat -c %U /srv/mysite/shared/db.sqlite3')).stdout.trim()).toBe('mysite')

    // The service writes media and the database; nginx serves the file back.
    const probe = await get(a, '/media-probe')
    expect(probe.status).toBe(200)
    const file = (JSON.parse(probe.text) as { file: string }).file
    const media = await get(a, `/media/${file}`)
    expect(media.status).toBe(200)
    expect(media.text).toBe('written by the service\n')
    expect(await notes()).toBe(before + 1)

    // In the service's own mount namespace, as its user: shared/ writable, code and /etc not.
    const service = await liveService(a)
    const inService = (cmd: string) =>
      a.exec(
        `nsenter -t "$(systemctl show -p MainPID --value ${service})" -m ` +
          `setpriv --reuid mysite --regid mysite --clear-groups sh -c ${quote(cmd)}`
      )
    expect((await inService('touch /srv/mysite/shared/media/probe-ns')).code).toBe(0)
    expect((await inService('touch /srv/mysite/current/manage.py')).code).not.toBe(0)
    expect((await inService('touch /etc/probe')).stderr).toContain('Read-only file system')

    // The release belongs to root: the app user can change none of it.
    const touch = await a.exec('runuser -u mysite -- touch /srv/mysite/current/manage.py')
    expect(touch.code).not.toBe(0)
    expect(touch.stderr).toContain('Permission denied')
    const writable = await a.exec(
      'runuser -u mysite -- find -L /srv/mysite/current/ -writable 2>/dev/null; ' +
        'runuser -u mysite -- find /srv/mysite -path /srv/mysite/shared -prune -o -writable -print 2>/dev/null'
    )
    expect(writable.stdout).toBe('')
    expect(
      (await a.exec('runuser -u mysite -- find /srv/mysite/current/ -type f | wc -l')).stdout.trim()
    ).not.toBe('0')

    // .env: root's alone, in root's folder; systemd hands it to the app's processes, and the
    // app cannot change it (nor plant a link where root writes it).
    expect((await must(a, 'stat -c "%a %U %G" /srv/mysite/.deploy/env')).stdout.trim()).toBe(
      '600 root root'
    )
    expect((await must(a, 'stat -c "%a %U" /srv/mysite/.deploy')).stdout.trim()).toBe('700 root')
    for (const user of ['mysite', 'deploy', 'www-data'])
      expect((await a.exec(`runuser -u ${user} -- cat /srv/mysite/.deploy/env`)).code).not.toBe(0)
  })

  test("the recipe's hand-written unit, for comparison, is UNSAFE", async () => {
    const unit = [
      '[Unit]',
      'Description=gunicorn daemon (the tutorial recipe)',
      'After=network.target',
      '',
      '[Service]',
      'User=root',
      'WorkingDirectory=/srv/mysite/current',
      'ExecStart=/usr/bin/gunicorn --workers 3 --bind 127.0.0.1:8000 mysite.wsgi:application',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      ''
    ].join('\n')
    await must(
      a,
      `printf '%s' ${quote(unit)} > /etc/systemd/system/recipe-gunicorn.service && systemctl daemon-reload`
    )
    try {
      const recipe = await exposure('recipe-gunicorn.service')
      const ours = await exposure(await liveService(a))
      expect(recipe.score).toBeGreaterThanOrEqual(9.0)
      expect(recipe.verdict).toBe('UNSAFE')
      expect(ours.score).toBeLessThan(recipe.score / 4)
    } finally {
      await must(a, 'rm -f /etc/systemd/system/recipe-gunicorn.service && systemctl daemon-reload')
    }
  })
})
