// Zero downtime (issue #7): steady load through nginx while a deploy changes the code; failed
// requests (non-2xx or errors) and latency in the deploy window, the action against the recipe.
//
// Each round boots one fresh host per variant and deploys v1 to each (not measured). Then, in a
// rotated order, per variant: autocannon loads the host's /healthz through nginx (BENCH_CONNECTIONS
// connections, BENCH_RATE requests per second in all), a few seconds pass, the variant deploys a
// code change, a few seconds pass, the load stops. The deploy window is from the deploy's start
// to its end (the process exits); a request belongs to it when it was sent inside it.
//
//   npm run bench:downtime        BENCH_ROUNDS=3 BENCH_CONNECTIONS=4 BENCH_RATE=100 by default
//   BENCH_RATE=0                  as fast as the connections go (no rate limit)
//   BENCH_VARIANTS=action,one-script,step-by-step
//   BENCH_ACTION_INPUTS='{"gunicorn-args":"--preload"}'   extra inputs for the action
import autocannon from 'autocannon'
import {
  actionInputs,
  edit,
  envInt,
  envList,
  log,
  machine,
  median,
  millis,
  percentile,
  recipeOneScript,
  recipeStepByStep,
  rotation,
  runAction,
  seconds,
  sleep,
  snapshotDist,
  table,
  withHosts,
  workspaceWith,
  type Bundle,
  type TestHost,
  type Timed,
  type Variant
} from './lib.js'

const ROUNDS = envInt('BENCH_ROUNDS', 3)
const CONNECTIONS = Math.max(1, envInt('BENCH_CONNECTIONS', 4))
const RATE = envInt('BENCH_RATE', 100)
const PATH = process.env.BENCH_PATH || '/healthz'
/** Load before and after the deploy, in ms. */
const MARGIN_MS = envInt('BENCH_MARGIN_MS', 3000)
/** A request slower than this is an error (autocannon's timeout), in seconds. */
const REQUEST_TIMEOUT_S = 10
/** Bound on one load run, whatever happens to the deploy. */
const MAX_LOAD_S = 300
const EXTRA_INPUTS = JSON.parse(process.env.BENCH_ACTION_INPUTS || '{}') as Record<string, string>
const NAMES: Record<string, Variant> = {
  action: 'action',
  'one-script': 'recipe, one script',
  'step-by-step': 'recipe, step by step'
}
const VARIANTS = envList('BENCH_VARIANTS', ['action', 'one-script']).map((v) => {
  if (!NAMES[v]) throw new Error(`BENCH_VARIANTS: unknown variant ${v} (${Object.keys(NAMES)})`)
  return NAMES[v]
})

interface Event {
  /** when the request was sent (ms, performance.now) */
  sent: number
  /** 0: an error (connection refused or reset, timeout) */
  status: number
  latency: number
}

interface Outcome {
  variant: Variant
  round: number
  deployMs: number
  window: Event[]
  before: Event[]
}

function project(version: string): { workspace: string; project: string } {
  const made = workspaceWith(version)
  edit(made.project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
  return made
}

function deploy(variant: Variant, bundle: Bundle, host: TestHost, version: string): Promise<Timed> {
  const { workspace, project: folder } = project(version)
  if (variant === 'action') return runAction(bundle, actionInputs(host, EXTRA_INPUTS), workspace)
  if (variant === 'recipe, one script') return recipeOneScript(host, folder)
  return recipeStepByStep(host, folder)
}

/** Load on the host while `during` runs (with MARGIN_MS before and after). */
async function underLoad(host: TestHost, during: () => Promise<Timed>) {
  const events: Event[] = []
  let onDone: () => void = () => {}
  const finished = new Promise<void>((resolve) => (onDone = resolve))
  // The callback form returns the instance, whose events carry every response.
  const instance = autocannon(
    {
      url: `http://${host.address}${PATH}`,
      connections: CONNECTIONS,
      ...(RATE > 0 ? { overallRate: RATE } : {}),
      duration: MAX_LOAD_S,
      timeout: REQUEST_TIMEOUT_S,
      headers: { 'user-agent': 'django-deploy-action bench' }
    },
    () => onDone()
  )
  instance.on('response', (_client: unknown, status: number, _bytes: number, latency: number) => {
    const now = performance.now()
    events.push({ sent: now - latency, status, latency })
  })
  instance.on('reqError', () => events.push({ sent: performance.now(), status: 0, latency: NaN }))
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

function stats(events: Event[]) {
  const latencies = events.filter((e) => e.status !== 0).map((e) => e.latency)
  return {
    requests: events.length,
    failed: events.filter(failed).length,
    non2xx: events.filter((e) => e.status !== 0 && failed(e)).length,
    errors: events.filter((e) => e.status === 0).length,
    failingMs: failingMs(events),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : NaN
  }
}

async function main() {
  const bundle = await snapshotDist()
  log(
    `bundle ${bundle.sha}, ${VARIANTS.join(' / ')}, ${ROUNDS} rounds, ${CONNECTIONS} connections at ${RATE || 'unlimited'} req/s`
  )
  const outcomes: Outcome[] = []
  const started = Date.now()
  for (let round = 0; round < ROUNDS; round++) {
    await withHosts(
      VARIANTS.map((_, i) => `down-${i}`),
      async (hosts) => {
        const hostOf = (v: Variant) => hosts[VARIANTS.indexOf(v)]
        for (const variant of VARIANTS) {
          const first = await deploy(variant, bundle, hostOf(variant), `r${round}-v1`)
          if (!first.ok) throw new Error(`${variant}: the first deploy failed:\n${first.detail}`)
        }
        for (const variant of rotation(VARIANTS, round)) {
          const run = await underLoad(hostOf(variant), () =>
            deploy(variant, bundle, hostOf(variant), `r${round}-v2`)
          )
          if (!run.result.ok)
            throw new Error(`${variant}: the deploy failed:\n${run.result.detail}`)
          const window = run.events.filter((e) => e.sent >= run.start && e.sent <= run.end)
          const before = run.events.filter((e) => e.sent < run.start)
          outcomes.push({ variant, round, deployMs: run.end - run.start, window, before })
          const s = stats(window)
          log(
            `round ${round + 1}/${ROUNDS} ${variant}: deploy ${seconds(run.end - run.start)}, ${s.requests} requests, ${s.failed} failed (${s.non2xx} non-2xx, ${s.errors} errors), p50 ${millis(s.p50)}, p99 ${millis(s.p99)}, max ${millis(s.max)}`
          )
        }
      }
    )
  }

  console.log('\n## Zero downtime: load through nginx during a deploy (bench/downtime.ts)\n')
  console.log('```')
  console.log(machine())
  console.log(`bundle: dist/index.js sha256 ${bundle.sha}`)
  console.log(
    `load: autocannon, ${CONNECTIONS} connections, ${RATE ? `${RATE} requests/s in all` : 'no rate limit'}, GET ${PATH} through nginx, ${MARGIN_MS} ms before and after the deploy`
  )
  if (Object.keys(EXTRA_INPUTS).length)
    console.log(`action inputs: ${JSON.stringify(EXTRA_INPUTS)}`)
  console.log(`rounds: ${ROUNDS} (one fresh host per variant per round)`)
  console.log(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  console.log('```\n')

  const perRound = outcomes.map((o) => {
    const s = stats(o.window)
    return [
      `${o.variant} #${o.round + 1}`,
      seconds(o.deployMs),
      s.requests,
      s.failed,
      s.non2xx,
      s.errors,
      millis(s.failingMs),
      millis(s.p50),
      millis(s.p99),
      millis(s.max)
    ]
  })
  const header = [
    'deploy window',
    'deploy',
    'requests',
    'failed',
    'non-2xx',
    'errors',
    'failing for',
    'p50',
    'p99',
    'max'
  ]
  console.log(table(header, perRound))
  console.log('')

  const rows = VARIANTS.map((variant) => {
    const mine = outcomes.filter((o) => o.variant === variant).map((o) => stats(o.window))
    const before = stats(outcomes.filter((o) => o.variant === variant).flatMap((o) => o.before))
    return [
      variant,
      mine.reduce((n, s) => n + s.requests, 0),
      mine.reduce((n, s) => n + s.failed, 0),
      millis(median(mine.map((s) => s.failingMs))),
      millis(median(mine.map((s) => s.p50))),
      millis(median(mine.map((s) => s.p99))),
      millis(Math.max(...mine.map((s) => s.max))),
      `${millis(before.p50)} / ${millis(before.p99)} / ${millis(before.max)}`
    ]
  })
  console.log(
    table(
      [
        'all rounds',
        'requests',
        'failed',
        'failing for (median)',
        'p50 (median)',
        'p99 (median)',
        'max (of all)',
        'before the deploy: p50 / p99 / max'
      ],
      rows
    )
  )
  const action = outcomes.filter((o) => o.variant === 'action').map((o) => stats(o.window))
  if (action.length) {
    const failedAll = action.reduce((n, s) => n + s.failed, 0)
    const maxAll = Math.max(...action.map((s) => s.max))
    console.log('')
    console.log(
      table(
        ['goal (action)', 'measured', 'met'],
        [
          [
            '0 failed requests in the deploy window',
            String(failedAll),
            failedAll === 0 ? 'yes' : 'no'
          ],
          ['max latency < 1 s', millis(maxAll), maxAll < 1000 ? 'yes' : 'no']
        ]
      )
    )
  }
}

await main()
