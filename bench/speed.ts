// Deploy wall time (issue #7): a cold deploy (first release on a fresh host) and a warm one (a code
// change, same requirements), the action against the hand-run recipe as one script (what a user of
// a generic SSH action writes) and step by step (for reference).
//
// Each round boots one fresh host per variant, then runs the cold deploys in a rotated order, then
// the warm ones in a rotated order; medians over the rounds, ratios against the one-script recipe.
//
//   npm run bench:speed                     BENCH_ROUNDS=5 BENCH_WARM=2 by default
//   BENCH_VARIANTS=action,one-script npm run bench:speed
import { get } from '../test/e2e/fixture.js'
import {
  ACTION,
  actionSettings,
  envInt,
  log,
  machine,
  median,
  millis,
  ONE_SCRIPT,
  OpenSsh,
  ratio,
  rotation,
  seconds,
  snapshotDist,
  table,
  variants,
  withHosts,
  type TestHost,
  type Variant
} from './lib.js'

const ROUNDS = envInt('BENCH_ROUNDS', 5)
const WARM = Math.max(1, envInt('BENCH_WARM', 2))

interface Sample {
  variant: string
  kind: 'cold' | 'warm'
  round: number
  ms: number
}

async function deploy(variant: Variant, host: TestHost, version: string) {
  const result = await variant.deploy(host, version)
  if (!result.ok) throw new Error(`${variant.name} failed to deploy ${version}:\n${result.detail}`)
  // Not timed: the new code answers through nginx.
  const page = await get(host, '/healthz', { Host: host.address })
  const served = page.status === 200 ? (JSON.parse(page.text) as { version: string }).version : ''
  if (served !== version)
    throw new Error(
      `${variant.name}: after deploying ${version}, /healthz answered ${page.status} ${served}`
    )
  return result
}

async function main() {
  const bundle = await snapshotDist()
  const VARIANTS = variants(bundle, ['action', 'one-script', 'step-by-step'])
  const names = VARIANTS.map((v) => v.name)
  log(`bundle ${bundle.sha}, ${names.join(' / ')}, ${ROUNDS} rounds, ${WARM} warm deploys each`)
  const samples: Sample[] = []
  /** the step-by-step recipe's steps, each its own ssh call, by kind of deploy */
  const recipeSteps: Record<Sample['kind'], Map<string, number[]>> = {
    cold: new Map(),
    warm: new Map()
  }
  const addSteps = (kind: Sample['kind'], steps?: Map<string, number>) => {
    for (const [name, ms] of steps ?? []) {
      recipeSteps[kind].set(name, [...(recipeSteps[kind].get(name) ?? []), ms])
    }
  }
  /** one OpenSSH connection that runs `true`: what each extra connection costs */
  const connectMs: number[] = []
  /** the action's last cold and last warm deploy, for their summary and log */
  const last: Partial<Record<Sample['kind'], { summary: string; stdout: string; ms: number }>> = {}
  const started = Date.now()
  for (let round = 0; round < ROUNDS; round++) {
    const labels = VARIANTS.map((_, i) => `speed-${i}`)
    await withHosts(labels, async (hosts) => {
      const hostOf = (v: Variant) => hosts[VARIANTS.indexOf(v)]
      for (const variant of rotation(VARIANTS, round)) {
        const r = await deploy(variant, hostOf(variant), `r${round}-cold`)
        samples.push({ variant: variant.name, kind: 'cold', round, ms: r.ms })
        if (variant.name === ACTION)
          last.cold = { summary: r.summary ?? '', stdout: r.stdout ?? '', ms: r.ms }
        addSteps('cold', r.steps)
        log(`round ${round + 1}/${ROUNDS} cold ${variant.name}: ${seconds(r.ms)}`)
      }
      for (let w = 0; w < WARM; w++) {
        for (const variant of rotation(VARIANTS, round + w)) {
          const r = await deploy(variant, hostOf(variant), `r${round}-warm${w}`)
          samples.push({ variant: variant.name, kind: 'warm', round, ms: r.ms })
          if (variant.name === ACTION) {
            last.warm = { summary: r.summary ?? '', stdout: r.stdout ?? '', ms: r.ms }
          }
          addSteps('warm', r.steps)
          log(`round ${round + 1}/${ROUNDS} warm ${variant.name}: ${seconds(r.ms)}`)
        }
      }
      const ssh = new OpenSsh(hosts[0])
      for (let i = 0; i < 3; i++) {
        const t = performance.now()
        await ssh.ssh('true')
        connectMs.push(performance.now() - t)
      }
    })
  }

  const of = (variant: string, kind: Sample['kind']) =>
    samples.filter((s) => s.variant === variant && s.kind === kind).map((s) => s.ms)
  const base = ONE_SCRIPT
  const rows = names.flatMap((variant) =>
    (['cold', 'warm'] as const).map((kind) => {
      const values = of(variant, kind)
      return [
        `${kind}: ${variant}`,
        values.length,
        seconds(median(values)),
        seconds(Math.min(...values)),
        seconds(Math.max(...values)),
        names.includes(base) ? ratio(median(values), median(of(base, kind))) : '–'
      ]
    })
  )
  // Paired ratios: the action and the baseline on the same round, then the median of those.
  const paired = (kind: Sample['kind']) => {
    const ratios: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const a = samples.filter(
        (s) => s.variant === 'action' && s.kind === kind && s.round === round
      )
      const b = samples.filter((s) => s.variant === base && s.kind === kind && s.round === round)
      if (a.length && b.length) ratios.push(median(a.map((s) => s.ms)) / median(b.map((s) => s.ms)))
    }
    return ratios
  }

  console.log('\n## Deploy wall time (bench/speed.ts)\n')
  console.log('```')
  console.log(machine())
  console.log(`bundle: dist/index.js sha256 ${bundle.sha}`)
  console.log(
    `rounds: ${ROUNDS} (one fresh host per variant per round), warm deploys per round: ${WARM}`
  )
  if (actionSettings()) console.log(actionSettings())
  console.log(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  console.log('```\n')
  console.log(table(['deploy: variant', 'n', 'median', 'min', 'max', `vs ${base} (median)`], rows))
  if (names.includes(ACTION) && names.includes(base)) {
    const cold = paired('cold')
    const warm = paired('warm')
    console.log('')
    console.log(
      table(
        ['goal', 'paired ratios (per round)', 'median', 'target', 'met'],
        [
          [
            'cold: action / one script',
            cold.map((r) => r.toFixed(2)).join(' '),
            `${median(cold).toFixed(2)}x`,
            '≤ 1.00x',
            median(cold) <= 1 ? 'yes' : 'no'
          ],
          [
            'warm: action / one script',
            warm.map((r) => r.toFixed(2)).join(' '),
            `${median(warm).toFixed(2)}x`,
            '≤ 0.50x',
            median(warm) <= 0.5 ? 'yes' : 'no'
          ]
        ]
      )
    )
  }
  console.log(
    `\nOne OpenSSH connection running \`true\` (ssh -o BatchMode=yes host true): median ${millis(median(connectMs))} of ${connectMs.length}`
  )
  if (recipeSteps.warm.size > 0) {
    console.log(`\nThe step-by-step recipe's steps (each one ssh call), medians:\n`)
    console.log(
      table(
        ['step', 'cold', 'warm'],
        [...recipeSteps.warm.keys()].map((name) => [
          name,
          millis(median(recipeSteps.cold.get(name) ?? [])),
          millis(median(recipeSteps.warm.get(name) ?? []))
        ])
      )
    )
  }
  for (const kind of ['warm', 'cold'] as const) {
    const run = last[kind]
    if (!run) continue
    const where = /### Where the time went\n\n(?:\|.*\n?)+/.exec(run.summary)
    console.log(`\nThe job summary of the action's last ${kind} deploy:\n`)
    console.log(where ? where[0].trim() : run.summary)
    // Each step's own time as the log shows it; the rest is start-up, connecting and the lock.
    const steps = [...run.stdout.matchAll(/^\(([\w-]+): exit \d+, (\d+) ms\)$/gm)].map(
      (m): [string, number] => [m[1], Number(m[2])]
    )
    const inSteps = steps.reduce((n, [, ms]) => n + ms, 0)
    console.log('\nIts steps, from the log:\n')
    console.log(
      table(
        ['step', 'time'],
        [
          ...steps.map(([id, ms]) => [id, millis(ms)]),
          ['(all steps)', millis(inSteps)],
          ['(the rest: start-up, connect, lock, between steps)', millis(run.ms - inSteps)],
          ['(wall time)', millis(run.ms)]
        ]
      )
    )
  }
}

await main()
