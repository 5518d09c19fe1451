// Zero downtime (issue #7): steady load through nginx while a deploy changes the code; failed
// requests (non-2xx or errors) and latency in the deploy window, the action against the recipe.
//
// Each round boots one fresh host per variant and deploys v1 to each (not measured). Then, per
// case (a good release, then one whose WSGI import fails: issue 19), in a rotated order, per
// variant: autocannon loads the host's /healthz through nginx (BENCH_CONNECTIONS keep-alive
// connections, BENCH_RATE requests per second in all), a few seconds pass, the variant deploys,
// a few seconds pass, the load stops. The deploy window is from the deploy's start to its end
// (the process exits); a request belongs to it when it was sent inside it. The requests before the
// deploy are the same load without a deploy beside it.
//
// The run is written to bench/results/<date>-downtime.md.
//
//   npm run bench:downtime        BENCH_ROUNDS=5 BENCH_CONNECTIONS=4 BENCH_RATE=100 by default
//   BENCH_RATE=0                  as fast as the connections go (no rate limit)
//   BENCH_CASES=good,broken       the releases deployed (a broken one fails its deploy: expected)
//   BENCH_VARIANTS=action,one-script,step-by-step
//   BENCH_ACTION_VARIANTS='{"preload":{"gunicorn-args":"--preload"}}'   more action variants
import {
  ACTION,
  actionSettings,
  envInt,
  envList,
  log,
  median,
  millis,
  rotation,
  seconds,
  snapshotDist,
  startResults,
  table,
  variants,
  withHosts
} from './lib.js'
import { CONNECTIONS, describeLoad, RATE, stats, underLoad, type Event } from './load.js'

const ROUNDS = envInt('BENCH_ROUNDS', 5)
const CASES = envList('BENCH_CASES', ['good', 'broken']).map((c) => {
  if (c !== 'good' && c !== 'broken') throw new Error(`BENCH_CASES: unknown case ${c}`)
  return c
})

interface Outcome {
  variant: string
  case: 'good' | 'broken'
  round: number
  deployMs: number
  window: Event[]
  before: Event[]
}

async function main() {
  const out = startResults('downtime', 'Zero downtime: load through nginx during a deploy')
  const bundle = await snapshotDist()
  const VARIANTS = variants(bundle, ['action', 'one-script'])
  const names = VARIANTS.map((v) => v.name)
  log(
    `bundle ${bundle.sha}, ${names.join(' / ')}, ${ROUNDS} rounds, ${CONNECTIONS} connections at ${RATE || 'unlimited'} req/s`
  )
  const outcomes: Outcome[] = []
  const started = Date.now()
  for (let round = 0; round < ROUNDS; round++) {
    await withHosts(
      VARIANTS.map((_, i) => `down-${i}`),
      async (hosts) => {
        const hostOf = (v: (typeof VARIANTS)[number]) => hosts[VARIANTS.indexOf(v)]
        for (const variant of VARIANTS) {
          const first = await variant.deploy(hostOf(variant), `r${round}-v1`)
          if (!first.ok)
            throw new Error(`${variant.name}: the first deploy failed:\n${first.detail}`)
        }
        for (const kind of CASES) {
          for (const variant of rotation(VARIANTS, round)) {
            const broken = kind === 'broken'
            const run = await underLoad(hostOf(variant), () =>
              variant.deploy(hostOf(variant), `r${round}-${kind}`, broken)
            )
            // A broken release fails its deploy; a good one must not.
            if (run.result.ok === broken)
              throw new Error(
                `${variant.name}: the deploy of the ${kind} release ${broken ? 'succeeded' : 'failed'}:\n${run.result.detail}`
              )
            const window = run.events.filter((e) => e.sent >= run.start && e.sent <= run.end)
            const before = run.events.filter((e) => e.sent < run.start)
            outcomes.push({
              variant: variant.name,
              case: kind,
              round,
              deployMs: run.end - run.start,
              window,
              before
            })
            const s = stats(window)
            log(
              `round ${round + 1}/${ROUNDS} ${variant.name}, ${kind} release: deploy ${seconds(run.end - run.start)}, ${s.requests} requests, ${s.failed} failed (${s.non2xx} non-2xx, ${s.errors} errors), p50 ${millis(s.p50)}, p99 ${millis(s.p99)}, max ${millis(s.max)}`
            )
          }
        }
      }
    )
  }

  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${bundle.sha}`)
  out.line(`load: ${describeLoad()} the deploy`)
  if (actionSettings()) out.line(actionSettings())
  out.line(`rounds: ${ROUNDS} (one fresh host per variant per round)`)
  out.line(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  out.line('```\n')

  const perRound = outcomes.map((o) => {
    const s = stats(o.window)
    return [
      `${o.variant}, ${o.case} #${o.round + 1}`,
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
  out.line(table(header, perRound))
  out.line('')

  const groups = names.flatMap((variant) => CASES.map((kind) => ({ variant, kind })))
  const rows = groups.map(({ variant, kind }) => {
    const ours = outcomes.filter((o) => o.variant === variant && o.case === kind)
    const mine = ours.map((o) => stats(o.window))
    const before = stats(ours.flatMap((o) => o.before))
    return [
      `${variant}, ${kind} release`,
      mine.reduce((n, s) => n + s.requests, 0),
      mine.reduce((n, s) => n + s.failed, 0),
      millis(median(mine.map((s) => s.failingMs))),
      millis(median(mine.map((s) => s.p50))),
      millis(median(mine.map((s) => s.p99))),
      millis(Math.max(...mine.map((s) => s.max))),
      `${millis(before.p50)} / ${millis(before.p99)} / ${millis(before.max)}`
    ]
  })
  out.line(
    table(
      [
        'all rounds',
        'requests',
        'failed',
        'failing for (median)',
        'p50 (median)',
        'p99 (median)',
        'max (of all)',
        'no deploy (just before it): p50 / p99 / max'
      ],
      rows
    )
  )
  const ofAction = outcomes.filter((o) => o.variant === ACTION)
  const action = ofAction.map((o) => stats(o.window))
  if (action.length) {
    const failedAll = action.reduce((n, s) => n + s.failed, 0)
    const maxAll = Math.max(...action.map((s) => s.max))
    const p99 = median(action.map((s) => s.p99))
    const p99Idle = stats(ofAction.flatMap((o) => o.before)).p99
    const goals: Array<[string, string, boolean]> = [
      ['0 failed requests in every deploy window', String(failedAll), failedAll === 0],
      [
        'p99 during a deploy ≤ 1.5 × p99 without one (median of the deploys)',
        `${millis(p99)} against ${millis(p99Idle)} (${(p99 / p99Idle).toFixed(2)}x)`,
        p99 <= 1.5 * p99Idle
      ]
    ]
    if (RATE > 0 && RATE <= 100)
      goals.push([`max latency < 300 ms at ${RATE} requests/s`, millis(maxAll), maxAll < 300])
    out.line('')
    out.line(
      table(
        ['goal (action)', 'measured', 'met'],
        goals.map(([goal, measured, met]) => [goal, measured, met ? 'yes' : 'no'])
      )
    )
  }
  out.done()
}

await main()
