// The test hosts themselves: two at once, each on its own address with its own sshd and nginx.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bootHost, type ExecResult, type TestHost } from './testhost.js'

function run(file: string, args: string[], timeoutMs = 60_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({ code, stdout, stderr })
    })
  })
}

function isAlive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false
  try {
    // Field 3 of /proc/PID/stat, after the parenthesised command name.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

// jest applies only the global testTimeout, not the e2e project's, so the hooks and tests
// here carry their own: the first boot on a machine builds the root file system (~1.5 min).
const BOOT_TIMEOUT_MS = 15 * 60_000
const TEST_TIMEOUT_MS = 2 * 60_000

describe('test hosts', () => {
  let dir: string
  let hosts: TestHost[] = []
  const knownHostsFile = new Map<string, string>()

  function ssh(host: TestHost, user: string, command: string, knownHosts?: string) {
    return run('ssh', [
      '-i',
      host.keys.ed25519,
      '-o',
      `UserKnownHostsFile=${knownHosts ?? knownHostsFile.get(host.name)}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ConnectTimeout=10',
      '-p',
      String(host.port),
      `${user}@${host.address}`,
      command
    ])
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dda-testhost-'))
    const booting = [bootHost('e2e-one'), bootHost('e2e-two')]
    // Wait for both, so a failed boot does not leave the other one unrecorded.
    const settled = await Promise.allSettled(booting)
    hosts = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    const failed = settled.find((s) => s.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    for (const host of hosts) {
      const file = join(dir, `known_hosts-${host.name}`)
      await writeFile(file, `${host.knownHosts}\n`)
      knownHostsFile.set(host.name, file)
    }
  }, BOOT_TIMEOUT_MS)

  afterAll(async () => {
    await Promise.allSettled(hosts.map((host) => host.stop()))
    if (dir) await rm(dir, { recursive: true, force: true })
  }, TEST_TIMEOUT_MS)

  test(
    'each host has an address, host keys and a container of its own',
    () => {
      expect(hosts).toHaveLength(2)
      const [one, two] = hosts
      for (const host of hosts) {
        expect(host.address).toMatch(/^10\.231\.\d+\.2$/)
        expect(host.port).toBe(22)
        expect(host.httpPort).toBe(80)
        expect(host.knownHosts).toMatch(
          new RegExp(`^${host.address.replace(/\./g, '\\.')} ssh-ed25519 `)
        )
        expect(host.knownHostsAll.split('\n').map((l) => l.split(' ')[1])).toEqual([
          'ecdsa-sha2-nistp256',
          'ssh-ed25519',
          'ssh-rsa'
        ])
        expect(host.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/)
        expect(isAlive(host.pid)).toBe(true)
        expect(isAlive(host.leaderPid)).toBe(true)
      }
      expect(one.address).not.toBe(two.address)
      expect(one.fingerprint).not.toBe(two.fingerprint)
    },
    TEST_TIMEOUT_MS
  )

  test(
    'sshd answers on each address with the pinned host key',
    async () => {
      for (const host of hosts) {
        const root = await ssh(host, 'root', 'true')
        expect(root).toMatchObject({ code: 0 })
        const deploy = await ssh(host, 'deploy', 'id -un && sudo -n true && echo sudo-ok')
        expect(deploy).toMatchObject({ code: 0, stdout: 'deploy\nsudo-ok\n' })
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    "a host does not accept another host's pinned key",
    async () => {
      const [one, two] = hosts
      const result = await ssh(one, 'root', 'true', knownHostsFile.get(two.name))
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/Host key verification failed/)
    },
    TEST_TIMEOUT_MS
  )

  test(
    "nopass's sudo asks for a password",
    async () => {
      for (const host of hosts) {
        const result = await ssh(host, 'nopass', 'sudo -n true')
        expect(result.code).not.toBe(0)
        expect(result.stderr).toContain('a password is required')
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    'nginx answers on port 80 of each address',
    async () => {
      for (const host of hosts) {
        const result = await run('curl', [
          '-sS',
          '--max-time',
          '10',
          `http://${host.address}:${host.httpPort}/`
        ])
        expect(result.code).toBe(0)
        expect(result.stdout).toContain('Welcome to nginx!')
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    'exec runs inside the host and passes the exit code through',
    async () => {
      for (const host of hosts) {
        expect(await host.exec('hostname')).toMatchObject({ code: 0, stdout: `${host.name}\n` })
        expect(await host.exec('systemctl is-active ssh nginx')).toMatchObject({
          code: 0,
          stdout: 'active\nactive\n'
        })
        expect((await host.exec('echo oops >&2; exit 3')).code).toBe(3)
        expect((await host.exec('systemctl --failed --no-legend --plain')).stdout).toBe('')
      }
    },
    TEST_TIMEOUT_MS
  )

  test(
    "stopping a service on one host leaves the other host's alone (own cgroups)",
    async () => {
      const [one, two] = hosts
      const before = await two.exec('systemctl show -p MainPID --value nginx')
      expect(await one.exec('systemctl restart nginx && systemctl stop nginx')).toMatchObject({
        code: 0
      })
      expect(await two.exec('systemctl is-active nginx')).toMatchObject({ stdout: 'active\n' })
      expect((await two.exec('systemctl show -p MainPID --value nginx')).stdout).toBe(before.stdout)
      expect(await one.exec('systemctl start nginx')).toMatchObject({ code: 0 })
      // cgroup kills work inside (they fail with EIO under cgroup v1 on this machine).
      const journal = await one.exec('journalctl -b --no-pager -u nginx')
      expect(journal.stdout).not.toMatch(/Failed to kill control group/)
    },
    TEST_TIMEOUT_MS
  )

  test(
    'stop leaves no process, network namespace or link behind',
    async () => {
      const host = hosts[0]
      const index = host.address.split('.')[2]
      await host.stop()
      hosts = hosts.slice(1)
      expect(isAlive(host.pid)).toBe(false)
      expect(isAlive(host.leaderPid)).toBe(false)
      expect(existsSync(`/run/netns/dda-${host.name}`)).toBe(false)
      const link = await run('ip', ['link', 'show', `ddah${index}`])
      expect(link.code).not.toBe(0)
      const netns = await run('ip', ['netns', 'list'])
      expect(netns.stdout).not.toContain(`dda-${host.name}`)
      // Stopping twice is fine.
      await host.stop()
      // The other host is untouched.
      expect(await hosts[0].exec('true')).toMatchObject({ code: 0 })
    },
    TEST_TIMEOUT_MS
  )
})
