import type { Readable } from 'node:stream'
import { NodeSSH } from 'node-ssh'
import type { ConnectConfig } from 'ssh2'
import type { HostAddress, Settings } from '../settings.js'
import { sh, type ShellText } from '../shell.js'
import { type HostKeyVerdict, verifyHostKey } from './hostkey.js'

/** A failure of the connection or of a remote step, with the stage it happened in. */
export class RemoteError extends Error {
  constructor(
    readonly stage: 'resolve' | 'connect' | 'host-key' | 'auth' | 'sudo' | 'timeout' | 'command',
    message: string,
    readonly output = ''
  ) {
    super(message)
    this.name = 'RemoteError'
  }
}

export interface RunOptions {
  /** run as root: through `sudo -n` when the SSH user is not root */
  privileged?: boolean
  stdin?: string | Readable
  timeoutMs?: number
  onStdout?: (chunk: Buffer) => void
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
  durationMs: number
}

export interface Transport {
  run(command: ShellText, options?: RunOptions): Promise<RunResult>
  close(): void
}

const SUDO_NEEDS_PASSWORD = /sudo: (a password is required|a terminal is required|no tty present)/

/** One SSH connection to one host; every remote command of a deploy goes through `run`. */
export class SshTransport implements Transport {
  private constructor(
    private readonly ssh: NodeSSH,
    private readonly settings: Settings,
    private readonly label: string,
    private readonly hops: NodeSSH[]
  ) {}

  static async connect(settings: Settings, host: HostAddress): Promise<SshTransport> {
    const hops: NodeSSH[] = []
    let sock: ConnectConfig['sock']
    if (settings.jumpHost) {
      const jump = await open(
        settings,
        settings.jumpHost,
        settings.jumpHost.username,
        undefined,
        'jump host '
      )
      hops.push(jump)
      try {
        sock = await jump.forwardOut('127.0.0.1', 0, host.name, host.port)
      } catch (error) {
        jump.dispose()
        throw new RemoteError(
          'connect',
          `the jump host ${settings.jumpHost.name} could not reach ${host.name}:${host.port}: ${(error as Error).message}`
        )
      }
    }
    try {
      const ssh = await open(settings, host, settings.username, sock, '')
      return new SshTransport(ssh, settings, `${settings.username}@${host.name}`, hops)
    } catch (error) {
      hops.forEach((h) => h.dispose())
      throw error
    }
  }

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? this.settings.commandTimeoutMs
    const seconds = Math.ceil(timeoutMs / 1000)
    // `timeout` ends the step on the server too; the local timer guards against a dead link.
    const body = sh`timeout -k 5 ${seconds} sh -c ${command.text}`
    const privileged = options.privileged && this.settings.username !== 'root'
    const line = privileged ? sh`sudo -n -- ${body}` : body
    const started = Date.now()
    let timer: NodeJS.Timeout | undefined
    const guard = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RemoteError(
              'timeout',
              `a step on ${this.label} took longer than ${seconds} s (command-timeout)`
            )
          ),
        timeoutMs + 15000
      )
    })
    try {
      const result = await Promise.race([
        this.ssh.execCommand(line.text, {
          stdin: options.stdin,
          noTrim: true,
          onStdout: options.onStdout
        }),
        guard
      ])
      const run: RunResult = {
        code: result.code ?? 255,
        stdout: result.stdout,
        stderr: result.stderr,
        durationMs: Date.now() - started
      }
      if (privileged && run.code !== 0 && SUDO_NEEDS_PASSWORD.test(run.stderr)) {
        throw new RemoteError(
          'sudo',
          `sudo on ${this.label} asks for a password. Allow ${this.settings.username} passwordless sudo ` +
            `(a line "${this.settings.username} ALL=(ALL) NOPASSWD: ALL" in /etc/sudoers.d/), or connect as root.`,
          run.stderr
        )
      }
      if (run.code === 124) {
        throw new RemoteError(
          'timeout',
          `a step on ${this.label} took longer than ${seconds} s and was stopped (raise command-timeout)`,
          run.stdout + run.stderr
        )
      }
      return run
    } finally {
      clearTimeout(timer)
    }
  }

  close(): void {
    this.ssh.dispose()
    this.hops.forEach((h) => h.dispose())
  }
}

async function open(
  settings: Settings,
  host: HostAddress,
  username: string,
  sock: ConnectConfig['sock'],
  what: string
): Promise<NodeSSH> {
  let verdict: HostKeyVerdict | undefined
  const ssh = new NodeSSH()
  const config: ConnectConfig & { privateKey?: string } = {
    host: host.name,
    port: host.port,
    username,
    sock,
    readyTimeout: settings.connectTimeoutMs,
    keepaliveInterval: 15000,
    keepaliveCountMax: 4,
    privateKey: settings.privateKey,
    passphrase: settings.passphrase,
    password: settings.password,
    tryKeyboard: false,
    hostVerifier: (key: Buffer) => {
      verdict = verifyHostKey(key, host.name, host.port, settings)
      return settings.insecureSkipHostKeyCheck || verdict.accepted
    }
  }
  try {
    await ssh.connect(config)
    return ssh
  } catch (error) {
    throw explainConnectError(
      error as Error & { code?: string; level?: string },
      settings,
      host,
      username,
      what,
      verdict
    )
  }
}

function explainConnectError(
  error: Error & { code?: string; level?: string },
  settings: Settings,
  host: HostAddress,
  username: string,
  what: string,
  verdict: HostKeyVerdict | undefined
): RemoteError {
  const where = `${what}${host.name}:${host.port}`
  if (verdict && !verdict.accepted && !settings.insecureSkipHostKeyCheck) {
    const { offered } = verdict
    return new RemoteError(
      'host-key',
      `Host key check failed for ${where}: the server offered ${offered.type} ${offered.fingerprint}, and ${verdict.reason}. ` +
        `If this is the right host, pin its key: run \`ssh-keyscan -p ${host.port} ${host.name}\` from a trusted network ` +
        `and put the line in known-hosts (or the fingerprint in fingerprint). Nothing was sent to the server.`
    )
  }
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    return new RemoteError(
      'resolve',
      `cannot resolve the host name of ${where} (${error.code}): check the host input and DNS`
    )
  }
  if (error.code === 'ECONNREFUSED') {
    return new RemoteError(
      'connect',
      `connection to ${where} refused: is sshd running and listening on port ${host.port}?`
    )
  }
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
    return new RemoteError(
      'connect',
      `${where} is unreachable (${error.code}): check the address and the firewall`
    )
  }
  if (
    error.code === 'ETIMEDOUT' ||
    error.level === 'client-timeout' ||
    /timed out/i.test(error.message)
  ) {
    return new RemoteError(
      'connect',
      `connecting to ${where} timed out after ${settings.connectTimeoutMs / 1000} s: check the address, port and firewall (or raise timeout)`
    )
  }
  if (
    error.level === 'client-authentication' ||
    /authentication methods failed/i.test(error.message)
  ) {
    return new RemoteError(
      'auth',
      `authentication as ${username} on ${where} failed: the server did not accept the ${settings.privateKey ? 'key' : 'password'}. ` +
        `Is the public key in ~${username}/.ssh/authorized_keys on the server?`
    )
  }
  return new RemoteError('connect', `cannot connect to ${where}: ${error.message}`)
}
