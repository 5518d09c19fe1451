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
  actionInputs,
  edit,
  envInt,
  envList,
  log,
  machine,
  median,
  ratio,
  recipeOneScript,
  recipeStepByStep,
  rotation,
  runAction,
  seconds,
  snapshotDist,
  table,
  withHosts,
  workspaceWith,
  type Bundle,
  type TestHost,
  type Timed,
  type Variant
} from './lib.js'

const ROUNDS = envInt('BENCH_ROUNDS', 5)
const WARM = Math.max(1, envInt('BENCH_WARM', 2))
const NAMES: Record<string, Variant> = {
  action: 'action',
  'one-script': 'recipe, one script',
  'step-by-step': 'recipe, step by step'
}
const VARIANTS = envList('BENCH_VARIANTS', Object.keys(NAMES)).map((v) => {
  if (!NAMES[v]) throw new Error(`BENCH_VARIANTS: unknown variant ${v} (${Object.keys(NAMES)})`)
  return NAMES[v]
})

interface Sample {
  variant: Variant
  kind: 'cold' | 'warm'
  round: number
  ms: number
}

/** The fixture at a version, with a real code change (a view edited), ready to upload. */
function project(version: string): { workspace: string; project: string } {
  const made = workspaceWith(version)
  edit(made.project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
  return made
}

async function deploy(variant: Variant, bundle: Bundle, host: TestHost, version: string) {
  const { workspace, project: folder } = project(version)
  let result: Timed & { summary?: string }
  if (variant === 'action') result = await runAction(bundle, actionInputs(host), workspace)
  else if (variant === 'recipe, one script') result = await recipeOneScript(host, folder)
  else result = await recipeStepByStep(host, folder)
  if (!result.ok) throw new Error(`${variant} failed to deploy ${version}:\n${result.detail}`)
  // Not timed: the new code answers through nginx.
  const page = await get(host, '/healthz', { Host: host.address })
  const served = page.status === 200 ? (JSON.parse(page.text) as { version: string }).version : ''
  if (served !== version)
    throw new Error(
      `${variant}: after deploying ${version}, /healthz answered ${page.status} ${served}`
    )
  return result
}

async function main() {
  const bundle = await snapshotDist()
  log(`bundle ${bundle.sha}, ${VARIANTS.join(' / ')}, ${ROUNDS} rounds, ${WARM} warm deploys each`)
  const samples: Sample[] = []
  let lastWarmSummary = ''
  const started = Date.now()
  for (let round = 0; round < ROUNDS; round++) {
    const labels = VARIANTS.map((_, i) => `speed-${i}`)
    await withHosts(labels, async (hosts) => {
      const hostOf = (v: Variant) => hosts[VARIANTS.indexOf(v)]
      for (const variant of rotation(VARIANTS, round)) {
        const r = await deploy(variant, bundle, hostOf(variant), `r${round}-cold`)
        samples.push({ variant, kind: 'cold', round, ms: r.ms })
        log(`round ${round + 1}/${ROUNDS} cold ${variant}: ${seconds(r.ms)}`)
      }
      for (let w = 0; w < WARM; w++) {
        for (const variant of rotation(VARIANTS, round + w)) {
          const r = await deploy(variant, bundle, hostOf(variant), `r${round}-warm${w}`)
          samples.push({ variant, kind: 'warm', round, ms: r.ms })
          if (variant === 'action') lastWarmSummary = r.summary ?? ''
          log(`round ${round + 1}/${ROUNDS} warm ${variant}: ${seconds(r.ms)}`)
        }
      }
    })
  }

  const of = (variant: Variant, kind: Sample['kind']) =>
    samples.filter((s) => s.variant === variant && s.kind === kind).map((s) => s.ms)
  const base: Variant = 'recipe, one script'
  const rows = VARIANTS.flatMap((variant) =>
    (['cold', 'warm'] as const).map((kind) => {
      const values = of(variant, kind)
      return [
        `${kind}: ${variant}`,
        values.length,
        seconds(median(values)),
        seconds(Math.min(...values)),
        seconds(Math.max(...values)),
        VARIANTS.includes(base) ? ratio(median(values), median(of(base, kind))) : '–'
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
  console.log(`took: ${((Date.now() - started) / 60000).toFixed(1)} min`)
  console.log('```\n')
  console.log(table(['deploy: variant', 'n', 'median', 'min', 'max', `vs ${base} (median)`], rows))
  if (VARIANTS.includes('action') && VARIANTS.includes(base)) {
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
  if (lastWarmSummary) {
    const where = /### Where the time went[\s\S]*?(?=\n\n|\n###|$)/.exec(lastWarmSummary)
    console.log('\nThe job summary of the last warm deploy of the action:\n')
    console.log(where ? where[0] : lastWarmSummary)
  }
}

await main()
