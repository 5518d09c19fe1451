import type { Readable } from 'node:stream'
import { NodeSSH } from 'node-ssh'
import ssh2, {
  type AuthenticationType,
  type ConnectConfig,
  type ServerHostKeyAlgorithm
} from 'ssh2'
import type { HostAddress, Settings } from '../settings.js'
import type { ShellText } from '../shell.js'
import { bootstrapCommand, scriptBytes, stdinWithScript } from './bootstrap.js'
import { describeKey, type HostKeyVerdict, pinnedKeyTypes, verifyHostKey } from './hostkey.js'

/** How a connection failed, as far as it tells whether another try can help (retry.ts). */
export type FailureKind =
  | 'dns-no-answer'
  | 'no-such-name'
  | 'refused'
  | 'unreachable'
  | 'timeout'
  | 'reset'
  | 'forward'
  | 'host-key'
  | 'handshake'
  | 'auth'
  | 'login-timeout'
  | 'other'

/** A connection's failure: its kind, the host as the messages name it, the cause in a few words. */
export interface ConnectFailure {
  kind: FailureKind
  /** e.g. `jump host name:port`, `name:port (through the jump host j)` */
  where: string
  /** e.g. `connection refused (ECONNREFUSED)` */
  cause: string
}

/** A failure of the connection or of a remote step, with the stage it happened in. */
export class RemoteError extends Error {
  constructor(
    readonly stage: 'resolve' | 'connect' | 'host-key' | 'auth' | 'sudo' | 'timeout' | 'command',
    message: string,
    readonly output = '',
    /** set by a failed connection */
    readonly failure?: ConnectFailure
  ) {
    super(message)
    this.name = 'RemoteError'
  }
}

export interface RunOptions {
  /** the step being run, for scripted transports in tests */
  step?: { id: string; title: string; first?: string }
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

  /**
   * One try at connecting (the jump host first, if any), within `timeoutMs` in all; tries again
   * are retry.ts's.
   */
  static async connect(
    settings: Settings,
    host: HostAddress,
    timeoutMs = settings.connectTimeoutMs
  ): Promise<SshTransport> {
    const deadline = Date.now() + timeoutMs
    const hops: NodeSSH[] = []
    let sock: ConnectConfig['sock']
    if (settings.jumpHost) {
      const jump = await open(
        settings,
        settings.jumpHost,
        settings.jumpHost.username,
        undefined,
        deadline,
        'jump host '
      )
      hops.push(jump)
      try {
        sock = await jump.forwardOut('127.0.0.1', 0, host.name, host.port)
      } catch (error) {
        jump.dispose()
        const reason = (error as Error).message.replace(/^\(SSH\) Channel open failure:\s*/, '')
        throw new RemoteError(
          'connect',
          `the jump host ${settings.jumpHost.name} could not open a connection to ${host.name}:${host.port} (${reason}). ` +
            `Check that the jump host reaches that address and port (ssh there and try it), and that its sshd allows forwarding (AllowTcpForwarding).`,
          '',
          {
            kind: 'forward',
            where: `${host.name}:${host.port} through the jump host ${settings.jumpHost.name}`,
            cause: `the jump host could not open a connection to it (${reason})`
          }
        )
      }
    }
    try {
      const via = settings.jumpHost ? ` (through the jump host ${settings.jumpHost.name})` : ''
      const ssh = await open(settings, host, settings.username, sock, deadline, '', via)
      return new SshTransport(ssh, settings, `${settings.username}@${host.name}`, hops)
    } catch (error) {
      hops.forEach((h) => h.dispose())
      throw error
    }
  }

  async run(command: ShellText, options: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = options.timeoutMs ?? this.settings.commandTimeoutMs
    const seconds = Math.ceil(timeoutMs / 1000)
    const privileged = !!options.privileged && this.settings.username !== 'root'
    // The script goes on stdin, ahead of the step's own: no local user sees it in `ps`.
    const script = scriptBytes(command)
    const line = bootstrapCommand(script.length, seconds, privileged)
    const started = Date.now()
    let timer: NodeJS.Timeout | undefined
    // `timeout` ends the step on the server; this timer guards against a dead link.
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
          stdin: stdinWithScript(script, options.stdin),
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

/**
 * Host key algorithms, strongest first. ssh-rsa (an RSA key signed with SHA-1) and ssh-dss are
 * left out, as in OpenSSH since 8.8: SHA-1 signatures can be forged with chosen-prefix collisions.
 * An RSA host key is still accepted, signed with rsa-sha2-512 or rsa-sha2-256.
 */
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256'
]

/** The key types pinned for the host first, so the server offers a key that can match. */
function hostKeyAlgorithms(settings: Settings, host: HostAddress): ServerHostKeyAlgorithm[] {
  const pinned = pinnedKeyTypes(settings.knownHostEntries, host.name, host.port).flatMap((type) =>
    type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256'] : [type]
  )
  return [...new Set([...pinned, ...HOST_KEY_ALGORITHMS])].filter(
    (a): a is ServerHostKeyAlgorithm => (HOST_KEY_ALGORITHMS as string[]).includes(a)
  )
}

/** How far a connection got before it failed: the error alone cannot always tell. */
export interface Progress {
  /** the TCP connection was made */
  reached: boolean
  /** the key exchange finished, so the host key was accepted */
  handshaken: boolean
  verdict?: HostKeyVerdict
}

async function open(
  settings: Settings,
  host: HostAddress,
  username: string,
  sock: ConnectConfig['sock'],
  deadline: number,
  what: string,
  via = ''
): Promise<NodeSSH> {
  // A forwarded channel through the jump host is connected from the start.
  const progress: Progress = { reached: sock !== undefined, handshaken: false }
  const ssh = new NodeSSH()
  const config: ConnectConfig & { privateKey?: string } = {
    host: host.name,
    port: host.port,
    username,
    sock,
    // What is left of this try's time (the jump host took the rest); 0 would mean no limit.
    readyTimeout: Math.max(1, deadline - Date.now()),
    keepaliveInterval: 15000,
    keepaliveCountMax: 4,
    privateKey: settings.privateKey,
    passphrase: settings.passphrase,
    password: settings.password,
    tryKeyboard: false,
    // The key first, as ssh does: the password is never sent when the key is accepted.
    authHandler: [
      ...(settings.privateKey ? ['publickey' as const] : []),
      ...(settings.password ? ['password' as const] : [])
    ] satisfies AuthenticationType[],
    algorithms: { serverHostKey: hostKeyAlgorithms(settings, host) },
    hostVerifier: (key: Buffer) => {
      progress.verdict = verifyHostKey(key, host.name, host.port, {
        knownHosts: settings.knownHostEntries,
        fingerprints: settings.fingerprints,
        hostFingerprints: settings.hostFingerprints
      })
      return settings.insecureSkipHostKeyCheck || progress.verdict.accepted
    }
  }
  const connecting = ssh.connect(config)
  // node-ssh makes its ssh2 client before its first await: the stages can be followed from here.
  ssh.connection
    ?.once('connect', () => (progress.reached = true))
    .once('handshake', () => (progress.handshaken = true))
  try {
    await connecting
    // A step is a few small packets each way: with Nagle's algorithm each waits for the ACK of
    // the one before, which the server delays (40 ms), so every step took ~90 ms more.
    ssh.connection?.setNoDelay(true)
    return ssh
  } catch (error) {
    ssh.dispose()
    throw explainConnectError(
      error as Error & { code?: string; level?: string },
      settings,
      host,
      username,
      `${what}${host.name}:${host.port}${via}`,
      progress,
      via !== ''
    )
  }
}

/** The public half of the private key, as `ssh-keygen -lf` shows it, for the auth error. */
function clientKeyName(settings: Settings): string {
  if (!settings.privateKey) return ''
  const parsed = ssh2.utils.parseKey(settings.privateKey, settings.passphrase)
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  if (!key || key instanceof Error) return ''
  const { type, fingerprint } = describeKey(key.getPublicSSH())
  return ` ${type} ${fingerprint}`
}

/**
 * Names the stage a connection failed in, its kind (which decides a retry), its likely cause and
 * what to do about it.
 */
// One case per way a connection fails, in the order they can happen: read as a table.
// eslint-disable-next-line max-lines-per-function
export function explainConnectError(
  error: Error & { code?: string; level?: string },
  settings: Settings,
  host: HostAddress,
  username: string,
  where: string,
  progress: Progress,
  via: boolean
): RemoteError {
  const { verdict } = progress
  const seconds = settings.connectTimeoutMs / 1000
  const fail = (
    stage: RemoteError['stage'],
    kind: FailureKind,
    cause: string,
    message: string
  ): RemoteError => new RemoteError(stage, message, '', { kind, where, cause })
  if (verdict && !verdict.accepted && !settings.insecureSkipHostKeyCheck) {
    const { offered } = verdict
    const scan = `ssh-keyscan -p ${host.port} ${host.name}`
    const file = `/etc/ssh/ssh_host_${offered.type.replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub`
    return fail(
      'host-key',
      'host-key',
      `host key ${offered.type} ${offered.fingerprint} refused`,
      `Host key check failed for ${where}: the server offered ${offered.type} ${offered.fingerprint}, and ${verdict.reason}. ` +
        `The connection was closed before logging in: no user name, key or password was sent. ` +
        `If this is the right host, pin its key: run \`${scan}\` ${via ? 'on the jump host' : 'from a trusted network'} and put the line in known-hosts, ` +
        `or compare with \`ssh-keygen -lf ${file}\` on the server and put the SHA256:... fingerprint in fingerprint.`
    )
  }
  if (
    ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA'].includes(error.code ?? '')
  ) {
    const again = error.code === 'EAI_AGAIN'
    return fail(
      'resolve',
      again ? 'dns-no-answer' : 'no-such-name',
      again ? 'DNS did not answer (EAI_AGAIN)' : `no such name (${error.code})`,
      `cannot resolve the host name of ${where} (${error.code}${error.code === 'EAI_AGAIN' ? ': DNS did not answer' : ': no such name'}). ` +
        `Check its spelling; a name that only a private network knows needs a runner inside that network, or use the IP address.`
    )
  }
  if (error.code === 'ECONNREFUSED') {
    return fail(
      'connect',
      'refused',
      'connection refused (ECONNREFUSED)',
      `connection to ${where} refused: nothing listens on port ${host.port} there. ` +
        `Is sshd running (systemctl status ssh), and on this port (set port, or host as name:port)?`
    )
  }
  if (error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
    return fail(
      'connect',
      'unreachable',
      `no route to the host (${error.code})`,
      `${where} is unreachable (${error.code}): no route from the runner to that address. Check the address, and that the network lets the runner in.`
    )
  }
  const timedOut =
    error.code === 'ETIMEDOUT' ||
    error.level === 'client-timeout' ||
    /timed out/i.test(error.message)
  if (timedOut && !progress.reached) {
    return fail(
      'connect',
      'timeout',
      `no answer within ${seconds} s (timed out)`,
      `connecting to ${where} timed out after ${seconds} s: no answer at all. The host is down, the address or port is wrong, ` +
        `or a firewall drops the runner's packets (allow the runner's addresses to port ${host.port}). Raise timeout if the host is only slow.`
    )
  }
  const closed = error.code === 'ECONNRESET' || /lost before handshake/i.test(error.message)
  if ((timedOut || closed) && !progress.handshaken) {
    return fail(
      'connect',
      timedOut ? 'timeout' : 'reset',
      timedOut
        ? `no SSH answer within ${seconds} s (timed out before the SSH handshake)`
        : error.code === 'ECONNRESET'
          ? 'connection reset before the SSH handshake (ECONNRESET)'
          : 'connection closed before the SSH handshake',
      `${where} accepted the connection but ${timedOut ? `no SSH server answered within ${seconds} s` : 'closed it during the SSH handshake'}. ` +
        `Is port ${host.port} the port sshd listens on? (A server that refuses the runner's address, e.g. by fail2ban or MaxStartups, also does this.)`
    )
  }
  if (error.level === 'handshake' || /^Handshake failed/.test(error.message)) {
    const hostKey = /host key/i.test(error.message)
    return fail(
      'connect',
      'handshake',
      'the SSH handshake failed',
      `the SSH handshake with ${where} failed: ${error.message}. ` +
        (hostKey
          ? 'The server offers no host key this action accepts (it refuses ssh-rsa and ssh-dss, which sign with SHA-1): ' +
            'give the server an ed25519 key (ssh-keygen -A), or update its OpenSSH.'
          : "The server and the action share no secure algorithm: update the server's OpenSSH.")
    )
  }
  if (
    error.level === 'client-authentication' ||
    /authentication methods failed/i.test(error.message)
  ) {
    const credential = settings.privateKey ? `key${clientKeyName(settings)}` : 'password'
    return fail(
      'auth',
      'auth',
      'authentication failed',
      `authentication as ${username} on ${where} failed: the server did not accept the ${credential}. ` +
        (settings.privateKey
          ? `Add its public key (\`ssh-keygen -y -f <key file>\` prints it) to ~${username}/.ssh/authorized_keys on the server, or check username.`
          : `Check username and password, and that the server allows password logins (PasswordAuthentication); a key is safer.`)
    )
  }
  if (timedOut) {
    return fail(
      'connect',
      'login-timeout',
      `no login within ${seconds} s`,
      `logging in to ${where} took longer than ${seconds} s: the server accepted the host key but did not finish authentication. Raise timeout, or check the server's load.`
    )
  }
  return fail('connect', 'other', error.message, `cannot connect to ${where}: ${error.message}`)
}
