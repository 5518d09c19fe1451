// Steady HTTP load through nginx with autocannon, every response kept with the time it was sent,
// so a window (a deploy, a restart) can be cut out of the run afterwards.
import autocannon from 'autocannon'
import { envInt, percentile, sleep, type TestHost } from './lib.js'

export const CONNECTIONS = Math.max(1, envInt('BENCH_CONNECTIONS', 4))
/** Requests per second in all, paced evenly; 0: as fast as the connections go. */
export const RATE = envInt('BENCH_RATE', 100)
export const PATH = process.env.BENCH_PATH || '/healthz'
/** Load before and after the window, in ms. */
export const MARGIN_MS = envInt('BENCH_MARGIN_MS', 3000)
/** A request slower than this is an error (autocannon's timeout), in seconds. */
const REQUEST_TIMEOUT_S = 10
/** Bound on one load run, whatever happens to the window. */
const MAX_LOAD_S = 300

export interface Event {
  /** when the request was sent (ms, performance.now) */
  sent: number
  /** 0: an error (connection refused or reset, timeout) */
  status: number
  latency: number
}

export function describeLoad(): string {
  return `autocannon, ${CONNECTIONS} connections, ${RATE ? `${RATE} requests/s in all, paced evenly` : 'no rate limit'}, GET ${PATH} through nginx, ${MARGIN_MS} ms before and after`
}

/** After a connection error, the next attempt waits this long (autocannon retries at once). */
const RECONNECT_DELAY_MS = 10

/** The parts of autocannon 9's client that `mendClient` changes. */
interface ClientInternals {
  destroyed: boolean
  _connect(): void
  _doRequest(...args: unknown[]): void
  _destroyConnection(): void
  pipelinedRequests: { toArray(): Array<{ startTime: [number, number] }>; clear(): void }
  on(event: 'connError' | 'timeout', listener: () => void): unknown
  on(event: 'headers', listener: (info: { shouldKeepAlive?: boolean }) => void): unknown
}

/**
 * Makes autocannon 9's client count failed requests, not connection attempts, and behave as
 * browsers and Node's http do when a server ends a keep-alive connection (nginx does for its old
 * workers' connections on a reload or restart):
 *
 * - A request sent and never answered (the connection was refused, reset or ended, or it timed
 *   out) is one failed request. autocannon counts one error per connection error, requests or
 *   not (and retries a refused connection at once, thousands of times a second); on a connection
 *   the server ended it counts nothing, keeps the request, and matches every later answer on
 *   that client with the request before it (a latency as long as the gap between the two).
 * - A response with `Connection: close`: the next request goes on a new connection. autocannon
 *   would write it on the closing one, where it is lost.
 * - After a connection error the next attempt waits RECONNECT_DELAY_MS.
 * - Requests are paced, one every `intervalMs` on each connection (the first at a random point of
 *   the interval), instead of autocannon's rate limit, which sends each connection's share of a
 *   second at its start, all connections at once: 100 failed requests would then mean anything
 *   from a few milliseconds to a second of failure. A late answer is not made up for.
 */
function mendClient(client: unknown, onLost: (sent: number) => void, intervalMs: number): void {
  const c = client as ClientInternals
  const connect = c._connect.bind(c)
  const doRequest = c._doRequest.bind(c)
  let afterError = false
  let closing = false
  let waiting = false
  let next = performance.now() + Math.random() * intervalMs
  let paced: NodeJS.Timeout | undefined
  c.on('connError', () => (afterError = true))
  c.on('timeout', () => onLost(performance.now()))
  c.on('headers', (info) => (closing = info.shouldKeepAlive === false))
  c._doRequest = (...args: unknown[]) => {
    // No connection yet: the connection sends its request when it is made.
    if (waiting || paced) return
    const now = performance.now()
    if (now < next) {
      paced = setTimeout(() => {
        paced = undefined
        if (!c.destroyed) c._doRequest()
      }, next - now)
      return
    }
    next = now + intervalMs
    if (!closing) return doRequest(...args)
    next = now
    closing = false
    // _connect sends the request on the new connection.
    c._destroyConnection()
    c._connect()
  }
  c._connect = () => {
    for (const { startTime } of c.pipelinedRequests.toArray()) {
      const [s, ns] = process.hrtime(startTime)
      onLost(performance.now() - (s * 1e3 + ns / 1e6))
    }
    c.pipelinedRequests.clear()
    closing = false
    if (!afterError) return connect()
    afterError = false
    waiting = true
    setTimeout(() => {
      waiting = false
      if (!c.destroyed) connect()
    }, RECONNECT_DELAY_MS)
  }
}

/** Load on the host while `during` runs (with MARGIN_MS before and after). */
export async function underLoad<T>(
  host: TestHost,
  during: () => Promise<T>
): Promise<{ result: T; start: number; end: number; events: Event[] }> {
  const events: Event[] = []
  let onDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => (onDone = resolve))
  // The callback form returns the instance, whose events carry every response.
  const instance = autocannon(
    {
      url: `http://${host.address}${PATH}`,
      connections: CONNECTIONS,
      duration: MAX_LOAD_S,
      timeout: REQUEST_TIMEOUT_S,
      headers: { 'user-agent': 'django-deploy-action bench' },
      setupClient: (client) =>
        mendClient(
          client,
          (sent) => events.push({ sent, status: 0, latency: NaN }),
          RATE > 0 ? (CONNECTIONS * 1000) / RATE : 0
        )
    },
    () => onDone()
  )
  instance.on('response', (_client: unknown, status: number, _bytes: number, latency: number) => {
    const now = performance.now()
    events.push({ sent: now - latency, status, latency })
  })
  // Failed requests come from mendClient: autocannon's own reqError counts connection attempts.
  try {
    await sleep(MARGIN_MS)
    const start = performance.now()
    const result = await during()
    const end = performance.now()
    await sleep(MARGIN_MS)
    return { result, start, end, events }
  } finally {
    instance.stop()
    await Promise.race([finished, sleep(REQUEST_TIMEOUT_S * 1000 + 2000)])
  }
}

const failed = (e: Event) => e.status < 200 || e.status > 299

/** Time covered by failures: 100 ms slices holding a failed request. */
function failingMs(events: Event[]): number {
  return new Set(events.filter(failed).map((e) => Math.floor(e.sent / 100))).size * 100
}

export function stats(events: Event[]) {
  const latencies = events.filter((e) => e.status !== 0).map((e) => e.latency)
  return {
    requests: events.length,
    failed: events.filter(failed).length,
    non2xx: events.filter((e) => e.status !== 0 && failed(e)).length,
    errors: events.filter((e) => e.status === 0).length,
    failingMs: failingMs(events),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? latencies.reduce((a, b) => Math.max(a, b), 0) : NaN
  }
}
