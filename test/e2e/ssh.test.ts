// The action's SSH layer against a real sshd: host key pinned, commands as root and via sudo -n.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { RemoteError, SshTransport } from '../../src/remote/connection.js'
import { acquireLock } from '../../src/remote/lock.js'
import { readSettings } from '../../src/inputs/settings.js'
import { sh } from '../../src/shell.js'
import { ROOT } from './action.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost

beforeAll(async () => {
  host = await bootHost('ssh-layer')
})
afterAll(async () => {
  await host?.stop()
})

function settingsFor(inputs: Record<string, string>) {
  return readSettings({
    getInput: (name) => inputs[name] ?? '',
    workspace: `${ROOT}/test/fixtures/mysite`
  })
}

function inputs(user: string, extra: Record<string, string> = {}) {
  return {
    host: host.address,
    username: user,
    key: readFileSync(host.keys.ed25519, 'utf8'),
    'known-hosts': host.knownHosts,
    'project-name': 'mysite',
    ...extra
  }
}

test('connects with the host key pinned and runs a command as root', async () => {
  const transport = await SshTransport.connect(settingsFor(inputs('root')), {
    name: host.address,
    port: 22
  })
  try {
    const result = await transport.run(sh`id -un; printf '%s' ${"it's $(not) run"}`)
    expect(result.code).toBe(0)
    expect(result.stdout).toBe("root\nit's $(not) run")
  } finally {
    transport.close()
  }
})

test('a non-root user runs privileged steps through sudo -n, and plain ones as itself', async () => {
  const transport = await SshTransport.connect(settingsFor(inputs('deploy')), {
    name: host.address,
    port: 22
  })
  try {
    expect((await transport.run(sh`id -un`, { privileged: true })).stdout).toBe('root\n')
    expect((await transport.run(sh`id -un`)).stdout).toBe('deploy\n')
  } finally {
    transport.close()
  }
})

test('the fingerprint pin works alone; a wrong one is refused before authentication', async () => {
  const good = settingsFor(inputs('root', { 'known-hosts': '', fingerprint: host.fingerprint }))
  const transport = await SshTransport.connect(good, { name: host.address, port: 22 })
  transport.close()

  const wrong = settingsFor(
    inputs('root', { 'known-hosts': '', fingerprint: 'SHA256:' + 'A'.repeat(43) })
  )
  const error = await SshTransport.connect(wrong, { name: host.address, port: 22 }).catch(
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(RemoteError)
  expect((error as RemoteError).stage).toBe('host-key')
  expect((error as RemoteError).message).toContain(
    `the server offered ssh-ed25519 ${host.fingerprint}`
  )
  expect((error as RemoteError).message).toContain(`ssh-keyscan -p 22 ${host.address}`)
  // Nothing was sent: the auth log shows no attempt for this connection.
  const auth = await host.exec(
    'journalctl -u ssh --no-pager -q | grep -c "Accepted publickey" || true'
  )
  expect(Number(auth.stdout.trim())).toBe(3)
})

test('a step longer than command-timeout is stopped with a clear error', async () => {
  const transport = await SshTransport.connect(
    settingsFor(inputs('root', { 'command-timeout': '1' })),
    {
      name: host.address,
      port: 22
    }
  )
  try {
    const error = await transport.run(sh`sleep 30`).catch((e: unknown) => e)
    expect((error as RemoteError).stage).toBe('timeout')
    expect((error as RemoteError).message).toMatch(/longer than 1 s .*command-timeout/)
  } finally {
    transport.close()
  }
})

test("the script goes on stdin, and the step's own stdin follows it byte for byte (as root and through sudo)", async () => {
  const data = randomBytes(1024 * 1024)
  const hash = createHash('sha256').update(data).digest('hex')
  for (const user of ['root', 'deploy']) {
    const transport = await SshTransport.connect(settingsFor(inputs(user)), {
      name: host.address,
      port: 22
    })
    try {
      const binary = await transport.run(sh`id -un; sha256sum`, {
        privileged: true,
        stdin: Readable.from([data])
      })
      expect(binary.stdout).toBe(`root\n${hash}  -\n`)
      const text = await transport.run(sh`cat`, { stdin: "A=it's ü€\n" })
      expect(text.stdout).toBe("A=it's ü€\n")
      // The exit code passes through the bootstrap.
      expect((await transport.run(sh`exit 3`, { privileged: true })).code).toBe(3)
    } finally {
      transport.close()
    }
  }
})

test('the deploy lock is held as long as its stdin is open, and released when it closes', async () => {
  const connect = () =>
    SshTransport.connect(settingsFor(inputs('deploy')), { name: host.address, port: 22 })
  const [first, second] = await Promise.all([connect(), connect()])
  try {
    const s = settingsFor(inputs('deploy'))
    // A step sent with the lock runs as root once it is taken; its output comes back whole.
    const sentWith = {
      id: 'check',
      phase: 'connect' as const,
      title: 'Check',
      privileged: true,
      command: sh`id -un; printf 'ü\n' >&2; printf '%070000d' 0; exit 4`
    }
    const held = await acquireLock(first, s, 'run 1', 5, () => {}, sentWith)
    expect(await held.first).toMatchObject({
      code: 4,
      stdout: `root\n${'0'.repeat(70000)}`,
      stderr: 'ü\n'
    })
    let waitedFor = ''
    const busy = await acquireLock(second, s, 'run 2', 1, (holder) => (waitedFor = holder)).catch(
      (e: unknown) => e
    )
    expect(waitedFor).toBe('run 1')
    expect((busy as RemoteError).message).toMatch(/held by: run 1.*waited for 1 s/)
    await held.release()
    const next = await acquireLock(second, s, 'run 2', 5, () => {})
    await next.release()
  } finally {
    first.close()
    second.close()
  }
})
