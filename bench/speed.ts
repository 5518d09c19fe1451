// Deploy wall time (issues #7 and #13): a cold deploy (first release on a fresh host), a warm one
// (a code change, same requirements), a deploy of the commit already live (the last warm deploy
// once more, unchanged), and the warm deploy of a grown project (the fixture with BENCH_GROWTH
// times its static files and migrations); the action against the hand-run recipe as one script
// (what a user of a generic SSH action writes) and step by step (for reference). The action's
// round trips per deploy come from its job summary ("Where the time went").
//
// Each round boots one fresh host per variant (and one per variant for the grown project: the
// action and the one-script recipe), then runs the cold deploys in a rotated order, then the warm
// ones in a rotated order, then the action's deploy of what is live; medians over the rounds,
// ratios against the one-script recipe, paired by round. The run is written to
// bench/results/<date>-speed.md (BENCH_NAME=root-boundary: <date>-root-boundary-speed.md).
//
//   npm run bench:speed                     BENCH_ROUNDS=5 BENCH_WARM=2 BENCH_GROWTH=10 by default
//   BENCH_VARIANTS=action,one-script npm run bench:speed
//   BENCH_GROWTH=0                          no grown project
//   BENCH_EXTRA_BUNDLES='before=/tmp/before/dist/index.js'   another build beside dist/
//   BENCH_UPLOAD_MB=24                      every project with a 24 MB file that does not compress
import { get } from '../test/e2e/fixture.js'
import {
  ACTION,
  actionSettings,
  envInt,
  log,
  median,
  millis,
  ONE_SCRIPT,
  OpenSsh,
  ratio,
  rotation,
  seconds,
  snapshotDist,
  startResults,
  table,
  variants,
  withHosts,
  type Growth,
  type TestHost,
  type Variant
} from './lib.js'
import { RECIPE_APP } from './recipe.js'

const out = startResults('speed', 'Deploy wall time')
const ROUNDS = envInt('BENCH_ROUNDS', 5)
const WARM = Math.max(1, envInt('BENCH_WARM', 2))
const GROWTH = envInt('BENCH_GROWTH', 10)
/**
 * Round trips of a warm deploy before issue #13: the warm log of issue #7's run (BENCHMARKS.md as
 * of commit 1ee7aa0) has 13 steps (each one command waited for), and the lock is one more.
 */
const EARLIER_ROUND_TRIPS = 14

const KINDS = ['cold', 'warm', 'live', 'cold grown', 'warm grown'] as const
type Kind = (typeof KINDS)[number]
const LABEL: Record<Kind, string> = {
  cold: 'cold',
  warm: 'warm',
  live: 'commit already live',
  'cold grown': `cold, ${GROWTH}x project`,
  'warm grown': `warm, ${GROWTH}x project`
}
/** What each kind is compared with: the recipe has no deploy of what is live, its warm one is. */
const BASELINE: Record<Kind, Kind> = {
  cold: 'cold',
  warm: 'warm',
  live: 'warm',
  'cold grown': 'cold grown',
  'warm grown': 'warm grown'
}

interface Sample {
  variant: string
  kind: Kind
  round: number
  ms: number
  /** the action's, from its job summary */
  roundTrips?: number
  /** the action said the commit already serves */
  alreadyLive?: boolean
  /** the action's steps and their times, from its log */
  steps?: Array<[string, number]>
}

type Deployed = Awaited<ReturnType<Variant['deploy']>>

async function checked(variant: Variant, host: TestHost, version: string, run: Deployed) {
  if (!run.ok) throw new Error(`${variant.name} failed to deploy ${version}:\n${run.detail}`)
  // Not timed: the new code answers through nginx.
  const page = await get(host, '/healthz', { Host: host.address })
  const served = page.status === 200 ? (JSON.parse(page.text) as { version: string }).version : ''
  if (served !== version)
    throw new Error(
      `${variant.name}: after deploying ${version}, /healthz answered ${page.status} ${served}`
    )
  return run
}

/** Each step's id and own time, as the action's log shows them. */
function stepsOf(stdout: string): Array<[string, number]> {
  return [...stdout.matchAll(/^\(([\w-]+): exit \d+, (\d+) ms\)$/gm)].map((m) => [
    m[1],
    Number(m[2])
  ])
}

/**
 * The last column of the job summary's "Where the time went" (one host: its one row). A build
 * without that column (before issue #13): its steps in the log, each one command waited for,
 * and the lock.
 */
function roundTripsOf(summary: string, stdout: string): number {
  const lines = summary.split('\n')
  const at = lines.findIndex((l) => l.startsWith('| host |') && l.includes('| round trips |'))
  const n = at < 0 ? NaN : Number((lines[at + 2] ?? '').split('|').at(-2)?.trim())
  return Number.isFinite(n) ? n : stepsOf(stdout).length + 1
}

/** What collectstatic and migrate found in a project the one-script recipe deployed. */
async function counted(host: TestHost): Promise<Growth> {
  const run = await host.exec(
    `cd ${RECIPE_APP} && find staticfiles -type f | wc -l && venv/bin/python manage.py showmigrations --list | grep -c '\\[X\\]'`
  )
  const [staticFiles, migrations] = run.stdout.trim().split(/\s+/).map(Number)
  if (run.code !== 0 || !staticFiles || !migrations)
    throw new Error(`counting the project's files failed: ${run.stdout}${run.stderr}`)
  return { staticFiles, migrations }
}

async function main() {
  const bundle = await snapshotDist()
  const VARIANTS = variants(bundle, ['action', 'one-script', 'step-by-step'])
  const names = VARIANTS.map((v) => v.name)
  const recipe = VARIANTS.find((v) => v.name === ONE_SCRIPT)
  // The grown project: the action and the one-script recipe (which counts the files).
  const GROWN =
    GROWTH > 1 && recipe ? VARIANTS.filter((v) => v.name === ACTION || v.name === ONE_SCRIPT) : []
  log(`bundle ${bundle.sha}, ${names.join(' / ')}, ${ROUNDS} rounds, ${WARM} warm deploys each`)
  const samples: Sample[] = []
  /** the step-by-step recipe's steps, each its own ssh call, by kind of deploy */
  const recipeSteps: Record<'cold' | 'warm', Map<string, number[]>> = {
    cold: new Map(),
    warm: new Map()
  }
  const addSteps = (kind: Kind, steps?: Map<string, number>) => {
    if (kind !== 'cold' && kind !== 'warm') return
    for (const [name, ms] of steps ?? []) {
      recipeSteps[kind].set(name, [...(recipeSteps[kind].get(name) ?? []), ms])
    }
  }
  /** one OpenSSH connection that runs `true`: what each extra connection costs */
  const connectMs: number[] = []
  /** the action's last deploy of each kind, for its summary and log */
  const last: Partial<Record<Kind, { summary: string; stdout: string; ms: number }>> = {}
  /** the fixture's and the grown project's static files and migrations, as deployed */
  let base: Growth | undefined
  let grown: Growth | undefined
  let growth: Growth | undefined
  const started = Date.now()

  const record = (variant: Variant, kind: Kind, round: number, r: Deployed) => {
    const action = r.summary !== undefined
    samples.push({
      variant: variant.name,
      kind,
      round,
      ms: r.ms,
      roundTrips: action ? roundTripsOf(r.summary ?? '', r.stdout ?? '') : undefined,
      alreadyLive: action ? (r.stdout ?? '').includes('already serves this commit') : undefined,
      steps: action ? stepsOf(r.stdout ?? '') : undefined
    })
    if (variant.name === ACTION)
      last[kind] = { summary: r.summary ?? '', stdout: r.stdout ?? '', ms: r.ms }
    addSteps(kind, r.steps)
    log(`round ${round + 1}/${ROUNDS} ${LABEL[kind]} ${variant.name}: ${seconds(r.ms)}`)
  }

  for (let round = 0; round < ROUNDS; round++) {
    const labels = [...VARIANTS.map((_, i) => `speed-${i}`), ...GROWN.map((_, i) => `speed-g${i}`)]
    await withHosts(labels, async (hosts) => {
      const hostOf = (v: Variant) => hosts[VARIANTS.indexOf(v)]
      const grownHostOf = (v: Variant) => hosts[VARIANTS.length + GROWN.indexOf(v)]
      const deploy = async (v: Variant, kind: Kind, host: TestHost, version: string) => {
        const grow = kind.endsWith('grown') ? growth : undefined
        record(
          v,
          kind,
          round,
          await checked(v, host, version, await v.deploy(host, version, false, grow))
        )
      }
      for (const v of rotation(VARIANTS, round))
        await deploy(v, 'cold', hostOf(v), `r${round}-cold`)
      if (GROWN.length && recipe && !base) {
        base = await counted(hostOf(recipe))
        growth = {
          staticFiles: (GROWTH - 1) * base.staticFiles,
          migrations: (GROWTH - 1) * base.migrations
        }
      }
      for (const v of rotation(GROWN, round))
        await deploy(v, 'cold grown', grownHostOf(v), `r${round}-cold`)
      if (GROWN.length && recipe && !grown) grown = await counted(grownHostOf(recipe))
      for (let w = 0; w < WARM; w++) {
        const version = `r${round}-warm${w}`
        for (const v of rotation(VARIANTS, round + w)) await deploy(v, 'warm', hostOf(v), version)
        for (const v of rotation(GROWN, round + w))
          await deploy(v, 'warm grown', grownHostOf(v), version)
      }
      // The last warm deploy once more, unchanged: the commit already live.
      for (const v of rotation(VARIANTS, round)) {
        if (!v.again) continue
        const again = await v.again(hostOf(v))
        record(v, 'live', round, await checked(v, hostOf(v), `r${round}-warm${WARM - 1}`, again))
      }
      const ssh = new OpenSsh(hosts[0])
      for (let i = 0; i < 3; i++) {
        const t = performance.now()
        await ssh.ssh('true')
        connectMs.push(performance.now() - t)
      }
    })
  }

  report({ samples, names, bundleSha: bundle.sha, started, base, grown })
  printRecipeSteps(recipeSteps, connectMs)
  for (const kind of ['warm', 'live', 'warm grown', 'cold'] as const) {
    const run = last[kind]
    if (run) printActionLog(`${LABEL[kind]} deploy`, run, of(samples, ACTION, kind))
  }
  out.done()
}

/** One row a round and kind of deploy: each variant's time (a median when it deployed twice). */
function perRound(samples: Sample[], names: string[]): string {
  const rounds = [...new Set(samples.map((s) => s.round))]
  return table(
    ['round: deploy', ...names],
    rounds.flatMap((round) =>
      KINDS.flatMap((kind) => {
        const cells = names.map((name) =>
          seconds(median(of(samples, name, kind).flatMap((s) => (s.round === round ? s.ms : []))))
        )
        return cells.every((c) => c === '–') ? [] : [[`${round + 1}: ${LABEL[kind]}`, ...cells]]
      })
    )
  )
}

const of = (samples: Sample[], variant: string, kind: Kind) =>
  samples.filter((s) => s.variant === variant && s.kind === kind)

/** The variant's deploys of a kind against the one-script recipe's of the same round. */
function paired(samples: Sample[], variant: string, kind: Kind): number[] {
  const ratios: number[] = []
  for (const round of new Set(samples.map((s) => s.round))) {
    const a = of(samples, variant, kind).filter((s) => s.round === round)
    const b = of(samples, ONE_SCRIPT, BASELINE[kind]).filter((s) => s.round === round)
    if (a.length && b.length) ratios.push(median(a.map((s) => s.ms)) / median(b.map((s) => s.ms)))
  }
  return ratios
}

function spread(values: number[]): string {
  if (!values.length) return '–'
  const [lo, hi] = [Math.min(...values), Math.max(...values)]
  return lo === hi ? `${lo}` : `${median(values)} (${lo}–${hi})`
}

function report(run: {
  samples: Sample[]
  names: string[]
  bundleSha: string
  started: number
  base?: Growth
  grown?: Growth
}) {
  const { samples, names, base, grown } = run
  const hasBase = names.includes(ONE_SCRIPT)
  out.heading()
  out.line('```')
  out.line(`bundle: dist/index.js sha256 ${run.bundleSha}`)
  out.line(
    `rounds: ${ROUNDS} (one fresh host per variant per round), warm deploys per round: ${WARM}`
  )
  if (base && grown)
    out.line(
      `project: ${base.staticFiles} static files collected, ${base.migrations} migrations; ` +
        `grown (${GROWTH}x): ${grown.staticFiles} static files, ${grown.migrations} migrations`
    )
  if (actionSettings()) out.line(actionSettings())
  out.line(`took: ${((Date.now() - run.started) / 60000).toFixed(1)} min`)
  out.line('```\n')
  out.line(perRound(samples, names))
  out.line('')

  const rows = names.flatMap((variant) =>
    KINDS.flatMap((kind) => {
      const found = of(samples, variant, kind)
      if (!found.length) return []
      const values = found.map((s) => s.ms)
      const baseline = of(samples, ONE_SCRIPT, BASELINE[kind]).map((s) => s.ms)
      return [
        [
          `${LABEL[kind]}: ${variant}`,
          values.length,
          seconds(median(values)),
          seconds(Math.min(...values)),
          seconds(Math.max(...values)),
          hasBase ? ratio(median(values), median(baseline)) : '–',
          spread(found.flatMap((s) => (s.roundTrips === undefined ? [] : [s.roundTrips])))
        ]
      ]
    })
  )
  out.line(
    table(
      ['deploy: variant', 'n', 'median', 'min', 'max', `vs ${ONE_SCRIPT} (median)`, 'round trips'],
      rows
    )
  )
  if (names.includes(ACTION) && hasBase) printGoals(samples, names)
  if (base && grown) printGrowth(samples, base, grown)
}

function printGoals(samples: Sample[], names: string[]) {
  const goal = (kind: Kind, what: string, target?: number) => {
    const ratios = paired(samples, ACTION, kind)
    if (!ratios.length) return []
    const m = median(ratios)
    return [
      [
        what,
        ratios.map((r) => r.toFixed(2)).join(' '),
        `${m.toFixed(2)}x`,
        target === undefined ? '–' : `≤ ${target.toFixed(2)}x`,
        target === undefined ? '–' : m <= target ? 'yes' : 'no'
      ]
    ]
  }
  out.line('')
  out.line(
    table(
      ['goal', 'paired ratios (per round)', 'median', 'target', 'met'],
      [
        ...goal('cold', 'cold: action / one script', 1),
        ...goal('warm', 'warm: action / one script', 0.5),
        ...goal('live', 'commit already live: action / one script warm', 0.2),
        ...goal('warm grown', `warm, ${GROWTH}x project: action / one script`)
      ]
    )
  )
  const trips = of(samples, ACTION, 'warm').flatMap((s) => s.roundTrips ?? [])
  const live = of(samples, ACTION, 'live')
  out.line(
    `\nRound trips per warm deploy (the action's job summary): ${spread(trips)}; before issue #13: ${EARLIER_ROUND_TRIPS} (13 steps and the lock, issue #7's warm log): ${median(trips) < EARLIER_ROUND_TRIPS ? 'fewer' : 'not fewer'}`
  )
  out.line(
    `The action said the commit already serves in ${live.filter((s) => s.alreadyLive).length} of ${live.length} deploys of the commit already live`
  )
  // Other builds (e.g. the action before issue #13) in the same run.
  for (const other of names.filter((n) => n.startsWith(`${ACTION} (`))) {
    const ratios = paired(samples, other, 'warm')
    const warm = of(samples, other, 'warm')
    const others = warm.flatMap((s) => s.roundTrips ?? [])
    if (ratios.length)
      out.line(
        `${other}: warm / one script (median of rounds) ${median(ratios).toFixed(2)}x, round trips per warm deploy ${spread(others)}; the steps of its last: ${(warm.at(-1)?.steps ?? []).map(([id]) => id).join(', ')}`
      )
  }
}

function printGrowth(samples: Sample[], base: Growth, grown: Growth) {
  const warm = (variant: string, kind: Kind) => median(of(samples, variant, kind).map((s) => s.ms))
  const row = (what: string, project: Growth, kind: Kind) => [
    what,
    project.staticFiles,
    project.migrations,
    seconds(warm(ACTION, kind)),
    seconds(warm(ONE_SCRIPT, kind)),
    `${median(paired(samples, ACTION, kind)).toFixed(2)}x`
  ]
  out.line(`\nHow the warm deploy grows with the project (medians):\n`)
  out.line(
    table(
      ['project', 'static files', 'migrations', 'action', ONE_SCRIPT, 'action / recipe (paired)'],
      [
        row('the fixture', base, 'warm'),
        row(`${GROWTH}x`, grown, 'warm grown'),
        [
          `${GROWTH}x / the fixture`,
          ratio(grown.staticFiles, base.staticFiles),
          ratio(grown.migrations, base.migrations),
          ratio(warm(ACTION, 'warm grown'), warm(ACTION, 'warm')),
          ratio(warm(ONE_SCRIPT, 'warm grown'), warm(ONE_SCRIPT, 'warm')),
          ''
        ]
      ]
    )
  )
}

function printRecipeSteps(
  steps: Record<'cold' | 'warm', Map<string, number[]>>,
  connectMs: number[]
) {
  out.line(
    `\nOne OpenSSH connection running \`true\` (ssh -o BatchMode=yes host true): median ${millis(median(connectMs))} of ${connectMs.length}`
  )
  if (steps.warm.size === 0) return
  out.line(`\nThe step-by-step recipe's steps (each one ssh call), medians:\n`)
  out.line(
    table(
      ['step', 'cold', 'warm'],
      [...steps.warm.keys()].map((name) => [
        name,
        millis(median(steps.cold.get(name) ?? [])),
        millis(median(steps.warm.get(name) ?? []))
      ])
    )
  )
}

function printActionLog(
  what: string,
  run: { summary: string; stdout: string; ms: number },
  all: Sample[]
) {
  const where = /### Where the time went\n\n(?:\|.*\n?)+/.exec(run.summary)
  out.line(`\nThe job summary of the action's last ${what}:\n`)
  out.line(where ? where[0].trim() : run.summary)
  // Each step's own time as the log shows it; the rest is start-up, connecting and the lock.
  const steps = stepsOf(run.stdout)
  const inSteps = steps.reduce((n, [, ms]) => n + ms, 0)
  // The same step over all the action's deploys of this kind (a step run twice: its sum).
  const medianOf = (id: string) =>
    median(
      all.flatMap((s) =>
        s.steps?.some(([step]) => step === id)
          ? [s.steps.reduce((n, [step, ms]) => (step === id ? n + ms : n), 0)]
          : []
      )
    )
  const totals = all.map((s) => (s.steps ?? []).reduce((n, [, ms]) => n + ms, 0))
  out.line(
    `\nIts steps, from the log, and the median of each over the ${all.length} such deploys:\n`
  )
  out.line(
    table(
      ['step', 'this deploy', `median of ${all.length}`],
      [
        ...steps.map(([id, ms]) => [id, millis(ms), millis(medianOf(id))]),
        ['(all steps)', millis(inSteps), millis(median(totals))],
        [
          '(the rest: start-up, connect, lock, between steps)',
          millis(run.ms - inSteps),
          millis(median(all.map((s, i) => s.ms - totals[i])))
        ],
        ['(wall time)', millis(run.ms), millis(median(all.map((s) => s.ms)))]
      ]
    )
  )
}

await main()
