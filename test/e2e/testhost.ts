// Real Debian test hosts for the end-to-end tests, booted by testhost.sh (see its header).
// A host that cannot start is an error, never a reason to skip: the tests must fail.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export const TESTHOST_SCRIPT = fileURLToPath(new URL('./testhost.sh', import.meta.url))

export interface HostKeys {
  ed25519: string
  ecdsa: string
  rsa: string
  /** passphrase: TEST_KEY_PASSPHRASE */
  ed25519Encrypted: string
}

/** The Debian releases a test host can run: 12 (bookworm) and 13 (trixie). */
export const SUITES = ['bookworm', 'trixie'] as const
export type Suite = (typeof SUITES)[number]
/** The suite of a host booted without one. */
export const DEFAULT_SUITE: Suite = 'bookworm'

export interface BootOptions {
  /** The Debian release to boot (default bookworm); its root file system is built once. */
  suite?: Suite
}

export interface HostInfo {
  name: string
  /** The Debian release the host runs. */
  suite: Suite
  /** The only address a test may contact for this host. */
  address: string
  port: number
  httpPort: number
  /** The host's ed25519 key as one known_hosts line. */
  knownHosts: string
  /** One known_hosts line per key type (ecdsa, ed25519, rsa). */
  knownHostsAll: string
  /** SHA256 fingerprint of the ed25519 host key, as `ssh-keygen -l` prints it. */
  fingerprint: string
  /** Client private keys authorized for root, deploy and nopass. */
  keys: HostKeys
  /** The systemd-nspawn process. */
  pid: number
  /** The container's PID 1. */
  leaderPid: number
  bootMs?: number
  sshdMs?: number
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

export interface TestHost extends HostInfo {
  /** Runs `bash -lc cmd` inside the host as root, without SSH. */
  exec(cmd: string): Promise<ExecResult>
  /** Powers the host off and boots it again: the same disk, address and host keys. */
  reboot(): Promise<void>
  stop(): Promise<void>
}

export const TEST_KEY_PASSPHRASE = 'test-passphrase'
/** Users on every host: root and deploy have passwordless sudo, nopass's sudo asks. */
export const TEST_USERS = { root: 'root', deploy: 'deploy', nopass: 'nopass' } as const

/**
 * Recorded with every host this process boots. testhost.sh powers a host off as soon as the
 * process named here exits (however it ends: inside jest's sandbox `process.on('exit')` never
 * fires, so that cannot be done from here), and the globalTeardown stops the hosts of its own
 * run plus any whose owner is gone, leaving other runs on the same machine alone.
 */
export const HOST_OWNER = `jest-${process.pid}`

const BUILD_TIMEOUT_MS = 15 * 60_000
const BOOT_TIMEOUT_MS = 3 * 60_000
const STOP_TIMEOUT_MS = 60_000
const EXEC_TIMEOUT_MS = 10 * 60_000

interface ScriptResult extends ExecResult {
  /** The script was killed (timeout), so it may have left a half-booted host. */
  killed: boolean
}

function runScript(args: string[], timeoutMs: number): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [TESTHOST_SCRIPT, ...args],
      {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        env: { ...process.env, TESTHOST_OWNER: HOST_OWNER }
      },
      (error, stdout, stderr) => {
        let code = 0
        let killed = false
        if (error) {
          const failure = error as NodeJS.ErrnoException & {
            code?: number | string
            signal?: string
            killed?: boolean
          }
          code = typeof failure.code === 'number' ? failure.code : 1
          if (failure.killed || failure.signal) {
            killed = true
            stderr += `\n[testhost.sh ${args[0]} killed by ${failure.signal ?? 'timeout'} after ${timeoutMs} ms]`
          } else if (typeof failure.code === 'string') {
            stderr += `\n[could not run testhost.sh: ${failure.message}]`
          }
        }
        resolve({ code, stdout, stderr, killed })
      }
    )
  })
}

function failure(what: string, result: ExecResult): Error {
  return new Error(
    `${what} failed (exit ${result.code}):\n${result.stderr.trim()}\n${result.stdout.trim()}`.trim()
  )
}

const builds = new Map<Suite, Promise<void>>()

/** Builds (or finds in the cache) the suite's root file system; once per suite per process. */
export function ensureBuilt(suite: Suite = DEFAULT_SUITE): Promise<void> {
  let build = builds.get(suite)
  if (!build) {
    build = runScript(['build', '--suite', suite], BUILD_TIMEOUT_MS).then((result) => {
      if (result.code !== 0) {
        builds.delete(suite)
        throw failure(`testhost.sh build --suite ${suite}`, result)
      }
    })
    builds.set(suite, build)
  }
  return build
}

function parseHostInfo(stdout: string, suite: Suite): HostInfo {
  const line = stdout.trim().split('\n').pop() ?? ''
  const info = JSON.parse(line) as HostInfo
  for (const field of ['name', 'address', 'knownHosts', 'knownHostsAll', 'fingerprint'] as const) {
    if (typeof info[field] !== 'string' || info[field] === '') {
      throw new Error(`testhost.sh boot printed no ${field}: ${line}`)
    }
  }
  if (info.suite !== suite) {
    throw new Error(`testhost.sh boot --suite ${suite} booted suite ${info.suite}: ${line}`)
  }
  if (!Number.isInteger(info.pid) || !Number.isInteger(info.leaderPid)) {
    throw new Error(`testhost.sh boot printed no pids: ${line}`)
  }
  return info
}

/**
 * Boots a fresh host named `name` (lower-case letters, digits and '-'), of `options.suite`
 * (default bookworm).
 */
export async function bootHost(shortName: string, options: BootOptions = {}): Promise<TestHost> {
  // TESTHOST_PREFIX, when set, goes before every host name (two runs of one file on one machine).
  const name = `${process.env.TESTHOST_PREFIX ?? ''}${shortName}`
  const suite = options.suite ?? DEFAULT_SUITE
  if (!SUITES.includes(suite)) throw new Error(`bootHost ${name}: unknown suite '${suite}'`)
  await ensureBuilt(suite)
  const result = await runScript(['boot', name, '--suite', suite], BOOT_TIMEOUT_MS)
  if (result.code !== 0) {
    // testhost.sh removes a host that failed to come up, unless it was killed. (Not stopped
    // otherwise: the name may belong to another run's host.)
    if (result.killed) await runScript(['stop', name], STOP_TIMEOUT_MS)
    throw failure(`testhost.sh boot ${name} --suite ${suite}`, result)
  }
  let info: HostInfo
  try {
    info = parseHostInfo(result.stdout, suite)
  } catch (error) {
    await runScript(['stop', name], STOP_TIMEOUT_MS)
    throw new Error(`testhost.sh boot ${name}: ${(error as Error).message}\n${result.stderr}`, {
      cause: error
    })
  }
  return {
    ...info,
    exec: async (cmd: string) => {
      const { code, stdout, stderr } = await runScript(
        ['exec', name, '--', 'bash', '-lc', cmd],
        EXEC_TIMEOUT_MS
      )
      return { code, stdout, stderr }
    },
    reboot: async () => {
      const rebooted = await runScript(['reboot', name], BOOT_TIMEOUT_MS)
      if (rebooted.code !== 0) throw failure(`testhost.sh reboot ${name}`, rebooted)
    },
    stop: async () => {
      const stopped = await runScript(['stop', name], STOP_TIMEOUT_MS)
      if (stopped.code !== 0) throw failure(`testhost.sh stop ${name}`, stopped)
    }
  }
}

/**
 * Stops every host of this test run (see HOST_OWNER) and every stale one; with
 * `{ everyone: true }` every host testhost.sh started, whoever started it.
 */
export async function stopAllHosts(options: { everyone?: boolean } = {}): Promise<void> {
  const args = options.everyone ? ['stop-all'] : ['stop-all', '--owner', HOST_OWNER]
  const result = await runScript(args, STOP_TIMEOUT_MS)
  if (result.code !== 0) throw failure('testhost.sh stop-all', result)
}

/**
 * Joins two hosts by a link of their own (each host's network reaches only this machine, so
 * they cannot reach each other otherwise) and returns b's address as a sees it. The link goes
 * away when either host stops.
 */
export async function linkHosts(a: HostInfo, b: HostInfo): Promise<string> {
  const result = await runScript(['link', a.name, b.name], STOP_TIMEOUT_MS)
  if (result.code !== 0) throw failure(`testhost.sh link ${a.name} ${b.name}`, result)
  const address = result.stdout.trim()
  if (!/^10\.232\.\d+\.[12]$/.test(address)) {
    throw new Error(`testhost.sh link ${a.name} ${b.name} printed no address: ${address}`)
  }
  return address
}
