// Transient connection failures are tried again: a connection refused, reset or timed out before
// the SSH handshake (sshd restarting, a host rebooting, MaxStartups), a jump host's forward that
// did not open, DNS that did not answer. Never what another try cannot fix, or where a try would
// only send the credentials again: a host key refused, a login refused, no common algorithm, a
// name that does not exist.
import { type ConnectFailure, type FailureKind, RemoteError } from './connection.js'

/** The kinds of failure that another try can fix: the server or the network was not there yet. */
const TRANSIENT: ReadonlySet<FailureKind> = new Set<FailureKind>([
  'refused',
  'reset',
  'timeout',
  'forward',
  'dns-no-answer'
])

/** Whether another try can help: a pure function of the error's stage and kind. */
export function worthRetrying(error: unknown): error is RemoteError & { failure: ConnectFailure } {
  return (
    error instanceof RemoteError &&
    (error.stage === 'connect' || error.stage === 'resolve') &&
    error.failure !== undefined &&
    TRANSIENT.has(error.failure.kind)
  )
}

export interface RetryPolicy {
  /** tries in all, the first one included */
  tries: number
  /** the wait after the first try; each next wait doubles */
  firstWaitMs: number
  /** each wait is its value times 1 ± jitter */
  jitter: number
  /** the least time a try is given: no try starts with less left of the budget */
  minTryMs: number
}

/** 4 tries, waits of 1 s, 2 s and 4 s (± 20 %): 7 s of waits at most, within `timeout`. */
export const RETRY_POLICY: RetryPolicy = {
  tries: 4,
  firstWaitMs: 1000,
  jitter: 0.2,
  minTryMs: 1000
}

/** Time, for the tests to script. */
export interface RetryClock {
  now(): number
  sleep(ms: number): Promise<void>
  /** in [0, 1) */
  random(): number
}

export const REAL_CLOCK: RetryClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random()
}

/** The wait after try `tried` (1, 2, ...): exponential, with jitter. */
export function backoffMs(tried: number, random: number, policy = RETRY_POLICY): number {
  const factor = 1 - policy.jitter + 2 * policy.jitter * random
  return Math.round(policy.firstWaitMs * 2 ** (tried - 1) * factor)
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`

/**
 * Connects by `connect`, which gets the time its try may take; a transient failure is tried
 * again after a wait, each logged as one line (the host, the cause, the wait). All the tries
 * and waits fit in `budgetMs` (the `timeout` input): a wait is cut to leave the next try
 * `minTryMs`, and there is no next try when that is not left. The error is the last try's,
 * with "after N tries" when there were several.
 */
export async function connectWithRetries<T>(
  connect: (timeoutMs: number) => Promise<T>,
  budgetMs: number,
  log: (line: string) => void,
  clock: RetryClock = REAL_CLOCK,
  policy: RetryPolicy = RETRY_POLICY
): Promise<T> {
  const started = clock.now()
  for (let tried = 1; ; tried++) {
    try {
      return await connect(budgetMs - (clock.now() - started))
    } catch (error) {
      const left = budgetMs - (clock.now() - started)
      const waitMs = Math.min(backoffMs(tried, clock.random(), policy), left - policy.minTryMs)
      if (!worthRetrying(error) || tried >= policy.tries || waitMs < 0) {
        throw tried === 1 ? error : afterTries(error, tried, clock.now() - started)
      }
      log(
        `Could not connect to ${error.failure.where}: ${error.failure.cause}. ` +
          `Trying again in ${seconds(waitMs)} (try ${tried + 1} of ${policy.tries}).`
      )
      await clock.sleep(waitMs)
    }
  }
}

/** The last try's error, saying how many there were. */
function afterTries(error: unknown, tries: number, ms: number): unknown {
  if (!(error instanceof RemoteError)) return error
  return new RemoteError(
    error.stage,
    `${error.message} Failed after ${tries} tries in ${seconds(ms)}.`,
    error.output,
    error.failure
  )
}
