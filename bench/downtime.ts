// Zero downtime (issue #7): steady load through nginx while a deploy changes the code; failed
// requests (non-2xx or errors) and latency in the deploy window, the action against the recipe.
//
// Each round boots one fresh host per variant and deploys v1 to each (not measured). Then, in a
// rotated order, per variant: autocannon loads the host's /healthz through nginx (BENCH_CONNECTIONS
// connections, BENCH_RATE requests per second in all), a few seconds pass, the variant deploys a
// code change, a few seconds pass, the load stops. The deploy window is from the deploy's start
// to its end (the process exits); a request belongs to it when it was sent inside it.
//
//   npm run bench:downtime        BENCH_ROUNDS=5 BENCH_CONNECTIONS=4 BENCH_RATE=100 by default
//   BENCH_RATE=0                  as fast as the connections go (no rate limit)
//   BENCH_VARIANTS=action,one-script,step-by-step
//   BENCH_ACTION_VARIANTS='{"preload":{"gunicorn-args":"--preload"}}'   more action variants
import {
  ACTION,
  actionSettings,
  envInt,
  log,
  machine,
  median,
  millis,
  rotation,
  seconds,
  snapshotDist,
  table,
  variants,
  withHosts
} from './lib.js'
import { CONNECTIONS, describeLoad, RATE, stats, underLoad, type Event } from './load.js'

const ROUNDS = envInt('BENCH_ROUNDS', 5)

interface Outcome {
  variant: string
  round: number
  deployMs: number
  window: Event[]
  before: Event[]
}

async function main() {
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
        for (const variant of rotation(VARIANTS, round)) {
          const run = await underLoad(hostOf(variant), () =>
            variant.deploy(hostOf(variant), `r${round}-v2`)
          )
          if (!run.result.ok)
            throw new Error(`${variant.name}: the deploy failed:\n${run.result.detail}`)
          const window = run.events.filter((e) => e.sent >= run.start && e.sent <= run.end)
          const before = run.events.filter((e) => e.sent < run.start)
          outcomes.push({
            variant: variant.name,
            round,
            deployMs: run.end - run.start,
            window,
            before
          })
          const s = stats(window)
          log(
            `round ${round + 1}/${ROUNDS} ${variant.name}: deploy ${seconds(run.end - run.start)}, ${s.requests} requests, ${s.failed} failed (${s.non2xx} non-2xx, ${s.errors} errors), p50 ${millis(s.p50)}, p99 ${millis(s.p99)}, max ${millis(s.max)}`
          )
        }
      }
    )
  }

  console.log('\n## Zero downtime: load through nginx during a deploy (bench/downtime.ts)\n')
  console.log('```')
  console.log(machine())
  console.log(`bundle: dist/index.js sha256 ${bundle.sha}`)
  console.log(`load: ${describeLoad()} the deploy`)
  if (actionSettings()) console.log(actionSettings())
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

  const rows = names.map((variant) => {
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
  const action = outcomes.filter((o) => o.variant === ACTION).map((o) => stats(o.window))
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
