// Transient connection failures tried again (src/remote/retry.ts): which failures are worth
// another try, from the errors the SSH layer sees, and the loop with scripted failures and a
// scripted clock (no real waits).

import {
  type ConnectFailure,
  explainConnectError,
  type FailureKind,
  type Progress,
  RemoteError
} from '../src/remote/connection.js'
import {
  backoffMs,
  connectWithRetries,
  RETRY_POLICY,
  type RetryClock,
  worthRetrying
} from '../src/remote/retry.js'
import { settingsFor } from './settings-fixture.js'

const HOST = { name: 'app1.example.com', port: 22 }
const WHERE = 'app1.example.com:22'

/** What the SSH layer makes of an error seen at some point of the connection. */
function explained(
  error: Partial<Error & { code: string; level: string }>,
  progress: Partial<Progress> = {}
): RemoteError {
  return explainConnectError(
    { name: 'Error', message: '', ...error },
    settingsFor(),
    HOST,
    'deploy',
    WHERE,
    { reached: false, handshaken: false, ...progress },
    false
  )
}

const REFUSED_KEY = {
  accepted: false as const,
  offered: { type: 'ssh-ed25519', fingerprint: 'SHA256:abc', base64: 'AAAA' },
  reason: 'known-hosts has no line for app1.example.com'
}

describe('worth retrying: from the errors the connection sees', () => {
  test.each<[string, Partial<Error & { code: string; level: string }>, Partial<Progress>, string]>([
    [
      'connection refused',
      { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      {},
      'refused'
    ],
    [
      'connection reset',
      { code: 'ECONNRESET', message: 'read ECONNRESET' },
      { reached: true },
      'reset'
    ],
    [
      'closed before the handshake',
      { message: 'Connection lost before handshake' },
      { reached: true },
      'reset'
    ],
    [
      'no answer at all (timed out)',
      { level: 'client-timeout', message: 'Timed out while waiting for handshake' },
      {},
      'timeout'
    ],
    [
      'ETIMEDOUT from the kernel',
      { code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' },
      {},
      'timeout'
    ],
    [
      'no SSH answer before the handshake (timed out)',
      { level: 'client-timeout', message: 'Timed out while waiting for handshake' },
      { reached: true },
      'timeout'
    ],
    [
      'DNS did not answer',
      { code: 'EAI_AGAIN', message: 'getaddrinfo EAI_AGAIN' },
      {},
      'dns-no-answer'
    ]
  ])('%s: tried again', (_name, error, progress, kind) => {
    const explainedError = explained(error, progress)
    expect(explainedError.failure).toEqual({ kind, where: WHERE, cause: expect.any(String) })
    expect(worthRetrying(explainedError)).toBe(true)
  })

  test.each<[string, Partial<Error & { code: string; level: string }>, Partial<Progress>, string]>([
    [
      'a name that does not exist',
      { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' },
      {},
      'no-such-name'
    ],
    [
      'authentication refused',
      { level: 'client-authentication', message: 'All configured authentication methods failed' },
      { reached: true, handshaken: true },
      'auth'
    ],
    [
      'no common algorithm',
      { level: 'handshake', message: 'Handshake failed: no matching key exchange algorithm' },
      { reached: true },
      'handshake'
    ],
    [
      'no host key the action accepts',
      { level: 'handshake', message: 'Handshake failed: no matching host key format' },
      { reached: true },
      'handshake'
    ],
    [
      'no route to the host',
      { code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH' },
      {},
      'unreachable'
    ],
    [
      'a login that took too long',
      { level: 'client-timeout', message: 'Timed out while waiting for handshake' },
      { reached: true, handshaken: true },
      'login-timeout'
    ],
    ['anything else', { message: 'something new' }, { reached: true, handshaken: true }, 'other']
  ])('%s: not tried again', (_name, error, progress, kind) => {
    const explainedError = explained(error, progress)
    expect(explainedError.failure?.kind).toBe(kind)
    expect(worthRetrying(explainedError)).toBe(false)
  })

  test('a host key refused: not tried again, whatever the error that followed', () => {
    for (const error of [
      { code: 'ECONNRESET', message: 'read ECONNRESET' },
      { level: 'handshake', message: 'Handshake failed: host key verification failed' }
    ]) {
      const explainedError = explained(error, { reached: true, verdict: REFUSED_KEY })
      expect(explainedError.stage).toBe('host-key')
      expect(worthRetrying(explainedError)).toBe(false)
    }
  })

  test('by the stage and kind alone', () => {
    const failure = (kind: FailureKind): ConnectFailure => ({ kind, where: WHERE, cause: 'x' })
    expect(worthRetrying(new RemoteError('connect', 'm', '', failure('forward')))).toBe(true)
    expect(worthRetrying(new RemoteError('resolve', 'm', '', failure('dns-no-answer')))).toBe(true)
    expect(worthRetrying(new RemoteError('resolve', 'm', '', failure('no-such-name')))).toBe(false)
    expect(worthRetrying(new RemoteError('host-key', 'm', '', failure('host-key')))).toBe(false)
    expect(worthRetrying(new RemoteError('auth', 'm', '', failure('auth')))).toBe(false)
    // Not a connection's failure: a step, sudo, a timeout of a step, anything else.
    expect(worthRetrying(new RemoteError('command', 'm', '', failure('refused')))).toBe(false)
    expect(worthRetrying(new RemoteError('timeout', 'm'))).toBe(false)
    expect(worthRetrying(new RemoteError('connect', 'm'))).toBe(false)
    expect(worthRetrying(new Error('connection refused'))).toBe(false)
    expect(worthRetrying(undefined)).toBe(false)
  })
})

describe('backoff', () => {
  test('1 s, 2 s, 4 s, each within ± 20 %', () => {
    expect([1, 2, 3].map((n) => backoffMs(n, 0.5))).toEqual([1000, 2000, 4000])
    expect([1, 2, 3].map((n) => backoffMs(n, 0))).toEqual([800, 1600, 3200])
    expect([1, 2, 3].map((n) => backoffMs(n, 0.999999))).toEqual([1200, 2400, 4800])
    expect(RETRY_POLICY.tries).toBe(4)
  })
})

describe('the retry loop', () => {
  /** A clock that moves only when a try takes time or the loop waits. */
  function scriptedClock(random = 0.5) {
    let now = 0
    const waits: number[] = []
    const clock: RetryClock = {
      now: () => now,
      sleep: async (ms) => {
        waits.push(ms)
        now += ms
      },
      random: () => random
    }
    return { clock, waits, advance: (ms: number) => (now += ms) }
  }

  const refused = (where = WHERE) =>
    new RemoteError(
      'connect',
      `connection to ${where} refused: nothing listens on port 22 there. Is sshd running?`,
      '',
      { kind: 'refused', where, cause: 'connection refused (ECONNREFUSED)' }
    )
  const authFailed = () =>
    new RemoteError('auth', `authentication as deploy on ${WHERE} failed`, '', {
      kind: 'auth',
      where: WHERE,
      cause: 'authentication failed'
    })

  /** Tries that fail with the given errors in turn, then connect; each takes `tryMs`. */
  function scriptedConnect(
    failures: unknown[],
    time: ReturnType<typeof scriptedClock>,
    tryMs: number | ((timeoutMs: number) => number) = 20
  ) {
    const timeouts: number[] = []
    const connect = async (timeoutMs: number) => {
      timeouts.push(timeoutMs)
      time.advance(typeof tryMs === 'number' ? tryMs : tryMs(timeoutMs))
      const failure = failures[timeouts.length - 1]
      if (failure) throw failure
      return 'connected'
    }
    return { connect, timeouts }
  }

  test('refused twice, then connected: two log lines naming the host, the cause and the wait', async () => {
    const time = scriptedClock()
    const { connect, timeouts } = scriptedConnect([refused(), refused()], time)
    const lines: string[] = []
    const result = await connectWithRetries(connect, 30_000, (l) => lines.push(l), time.clock)
    expect(result).toBe('connected')
    expect(time.waits).toEqual([1000, 2000])
    expect(lines).toEqual([
      `Could not connect to ${WHERE}: connection refused (ECONNREFUSED). Trying again in 1.0 s (try 2 of 4).`,
      `Could not connect to ${WHERE}: connection refused (ECONNREFUSED). Trying again in 2.0 s (try 3 of 4).`
    ])
    // Each try has what is left of the budget.
    expect(timeouts).toEqual([30_000, 28_980, 26_960])
  })

  test('connected at once: no wait, no line, the whole budget for the try', async () => {
    const time = scriptedClock()
    const { connect, timeouts } = scriptedConnect([], time)
    const lines: string[] = []
    expect(await connectWithRetries(connect, 30_000, (l) => lines.push(l), time.clock)).toBe(
      'connected'
    )
    expect({ timeouts, waits: time.waits, lines }).toEqual({
      timeouts: [30_000],
      waits: [],
      lines: []
    })
  })

  test('refused every time: 4 tries, the last error with "after 4 tries"', async () => {
    const time = scriptedClock()
    const { connect, timeouts } = scriptedConnect(
      [1, 2, 3, 4].map(() => refused()),
      time
    )
    const lines: string[] = []
    const error = await connectWithRetries(connect, 30_000, (l) => lines.push(l), time.clock).catch(
      (e: unknown) => e
    )
    expect(timeouts).toHaveLength(4)
    expect(time.waits).toEqual([1000, 2000, 4000])
    expect(lines).toHaveLength(3)
    expect(error).toBeInstanceOf(RemoteError)
    expect((error as RemoteError).stage).toBe('connect')
    expect((error as RemoteError).failure?.kind).toBe('refused')
    expect((error as RemoteError).message).toBe(
      `${refused().message} Failed after 4 tries in 7.1 s.`
    )
  })

  test('an authentication failure: one try, its error unchanged', async () => {
    const time = scriptedClock()
    const failure = authFailed()
    const { connect, timeouts } = scriptedConnect([failure], time)
    const lines: string[] = []
    const error = await connectWithRetries(connect, 30_000, (l) => lines.push(l), time.clock).catch(
      (e: unknown) => e
    )
    expect(error).toBe(failure)
    expect({ tries: timeouts.length, waits: time.waits, lines }).toEqual({
      tries: 1,
      waits: [],
      lines: []
    })
  })

  test.each([
    [
      'a host key refused',
      new RemoteError('host-key', 'Host key check failed', '', {
        kind: 'host-key',
        where: WHERE,
        cause: 'x'
      })
    ],
    [
      'a name that does not exist',
      new RemoteError('resolve', 'cannot resolve', '', {
        kind: 'no-such-name',
        where: WHERE,
        cause: 'x'
      })
    ],
    [
      'no common algorithm',
      new RemoteError('connect', 'the SSH handshake failed', '', {
        kind: 'handshake',
        where: WHERE,
        cause: 'x'
      })
    ],
    ['an error that is not the connection’s', new Error('boom')]
  ])('%s: one try', async (_name, failure) => {
    const time = scriptedClock()
    const { connect, timeouts } = scriptedConnect([failure], time)
    const error = await connectWithRetries(connect, 30_000, () => {}, time.clock).catch(
      (e: unknown) => e
    )
    expect(error).toBe(failure)
    expect(timeouts).toHaveLength(1)
  })

  test('refused, then the host key refused: the host key error, after 2 tries', async () => {
    const time = scriptedClock()
    const hostKey = new RemoteError('host-key', 'Host key check failed for x.', '', {
      kind: 'host-key',
      where: WHERE,
      cause: 'x'
    })
    const { connect } = scriptedConnect([refused(), hostKey], time)
    const error = await connectWithRetries(connect, 30_000, () => {}, time.clock).catch(
      (e: unknown) => e
    )
    expect((error as RemoteError).stage).toBe('host-key')
    expect((error as RemoteError).message).toBe(
      'Host key check failed for x. Failed after 2 tries in 1.0 s.'
    )
  })

  test("the jump host's forward and DNS that did not answer are tried again, each line naming its host", async () => {
    const time = scriptedClock()
    const forward = new RemoteError('connect', 'the jump host j could not open...', '', {
      kind: 'forward',
      where: `${WHERE} through the jump host j`,
      cause: 'the jump host could not open a connection to it (Connection refused)'
    })
    const dns = new RemoteError('resolve', 'cannot resolve', '', {
      kind: 'dns-no-answer',
      where: 'jump host j:22',
      cause: 'DNS did not answer (EAI_AGAIN)'
    })
    const { connect } = scriptedConnect([dns, forward], time)
    const lines: string[] = []
    expect(await connectWithRetries(connect, 30_000, (l) => lines.push(l), time.clock)).toBe(
      'connected'
    )
    expect(lines).toEqual([
      'Could not connect to jump host j:22: DNS did not answer (EAI_AGAIN). Trying again in 1.0 s (try 2 of 4).',
      `Could not connect to ${WHERE} through the jump host j: the jump host could not open a connection to it (Connection refused). Trying again in 2.0 s (try 3 of 4).`
    ])
  })

  test('never longer than the budget: waits are cut to leave a try 1 s, and no try starts with less', async () => {
    const time = scriptedClock(0.999999) // the longest waits: 1.2 s, 2.4 s, 4.8 s
    const { connect, timeouts } = scriptedConnect(
      [1, 2, 3, 4].map(() => refused()),
      time,
      100
    )
    const error = await connectWithRetries(connect, 3000, () => {}, time.clock).catch(
      (e: unknown) => e
    )
    // 0 → 0.1 s refused, waits 1.2 s; 1.3 → 1.4 s refused, waits 0.6 s (2.4 s cut); 2.0 → 2.1 s
    // refused: 0.9 s left, less than a try's 1 s.
    expect(time.waits).toEqual([1200, 600])
    expect(timeouts).toEqual([3000, 1700, 1000])
    expect((error as RemoteError).message).toMatch(/Failed after 3 tries in 2\.1 s\.$/)
  })

  test('a try that timed out at the end of the budget is the last one', async () => {
    const time = scriptedClock()
    const timedOut = new RemoteError('connect', 'connecting to x timed out after 30 s', '', {
      kind: 'timeout',
      where: WHERE,
      cause: 'no answer within 30 s (timed out)'
    })
    // The try takes all the time it is given.
    const { connect, timeouts } = scriptedConnect([timedOut], time, (timeoutMs) => timeoutMs)
    const error = await connectWithRetries(connect, 30_000, () => {}, time.clock).catch(
      (e: unknown) => e
    )
    expect(error).toBe(timedOut)
    expect(timeouts).toEqual([30_000])
  })

  test('a timeout with time left (the kernel gave up first) is tried again', async () => {
    const time = scriptedClock()
    const timedOut = new RemoteError('connect', 'connecting to x timed out', '', {
      kind: 'timeout',
      where: WHERE,
      cause: 'no answer (timed out)'
    })
    const { connect, timeouts } = scriptedConnect([timedOut], time, 127_000)
    expect(await connectWithRetries(connect, 300_000, () => {}, time.clock)).toBe('connected')
    expect(timeouts).toEqual([300_000, 172_000])
  })
})
