// Shared parts of the benchmarks: the action as a runner starts it (through the tests' harness),
// the variants (the action and the recipe of recipe.ts), test hosts, the statistics and tables.
//
// Run the bench scripts with Node 24 through bench/register.mjs (see package.json `bench:*`).
import { createHash, randomBytes } from 'node:crypto'
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { readSettings } from '../src/inputs/settings.js'
import type { Settings } from '../src/settings.js'
import { ROOT, runAction as runActionAsRunner } from '../test/e2e/action.js'
import { recipeOneScript, recipeStepByStep } from './recipe.js'
import { describeMachine, recorder } from './results.js'
import { breakUnderGunicorn, deployInputs, edit, workspaceWith } from '../test/e2e/fixture.js'
import { bootHost, type TestHost } from '../test/e2e/testhost.js'

export { ROOT, deployInputs, edit, workspaceWith }
export type { TestHost }
export { OpenSsh, recipeOneScript, recipeStepByStep } from './recipe.js'

// ---------------------------------------------------------------------------------------------
// Settings from the environment

export function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && process.env[name] !== '' && value >= 0
    ? Math.floor(value)
    : fallback
}

export function envList(name: string, fallback: string[]): string[] {
  const value = process.env[name]
  return value
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : fallback
}

// ---------------------------------------------------------------------------------------------
// The machine and the bundle

/**
 * A full run's record: `line` prints and keeps what the script reports, `done` writes it to
 * bench/results/<date>-<what>.md (see results.ts).
 */
export function startResults(script: string, title: string) {
  const kept = recorder(script, title)
  log(`${describeMachine(kept.machine).replaceAll('\n', ', ')}`)
  return {
    /** The title, on the terminal only: the results file has it as its own. */
    heading() {
      console.log(`\n## ${title} (bench/${script}.ts)\n`)
    },
    line: kept.line,
    done() {
      const file = kept.write(join(ROOT, 'bench', 'results'))
      log(`results: ${relative(ROOT, file)}`)
    }
  }
}

export interface Bundle {
  /** a private copy of dist/, so a rebuild of dist/ during the run cannot change what runs */
  dir: string
  entry: string
  totalBytes: number
  entryBytes: number
  sha: string
}

function folderBytes(folder: string): number {
  let total = 0
  for (const entry of readdirSync(folder, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

/**
 * Copies dist/ once it is complete and has not changed for a second: others may be rebuilding it
 * (scripts/bundle.mjs removes it first), and every run of one benchmark must start the same file.
 */
export async function snapshotDist(): Promise<Bundle> {
  const dist = join(ROOT, 'dist')
  const needed = ['index.js', 'package.json', 'post/index.js'].map((f) => join(dist, f))
  const deadline = Date.now() + 120_000
  while (Date.now() < deadline) {
    try {
      if (needed.every((f) => existsSync(f))) {
        const before = needed.map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join()
        await sleep(1000)
        const dir = join(mkdtempSync(join(tmpdir(), 'dda-bench-dist-')), 'dist')
        cpSync(dist, dir, { recursive: true })
        const after = needed.map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join()
        const copied = needed.every((f) => existsSync(join(dir, f.slice(dist.length))))
        if (before === after && copied) {
          const entry = join(dir, 'index.js')
          return {
            dir,
            entry,
            totalBytes: folderBytes(dir),
            entryBytes: statSync(entry).size,
            sha: createHash('sha256').update(readFileSync(entry)).digest('hex').slice(0, 12)
          }
        }
      }
    } catch {
      // a file vanished while it was read: try again
    }
    await sleep(500)
  }
  throw new Error('dist/ did not stay complete for a second within 2 minutes: run `npm run bundle`')
}

/** Another build of the action, e.g. an earlier commit's dist/, as it is (not copied). */
export function otherBundle(entry: string): Bundle {
  return {
    dir: dirname(entry),
    entry,
    totalBytes: folderBytes(dirname(entry)),
    entryBytes: statSync(entry).size,
    sha: createHash('sha256').update(readFileSync(entry)).digest('hex').slice(0, 12)
  }
}

/**
 * Other builds of the action to run beside dist/ as variants of their own, "action (<name>)":
 * BENCH_EXTRA_BUNDLES='before=/tmp/before/dist/index.js,…'.
 */
export function extraBundles(): Array<{ name: string; bundle: Bundle }> {
  return (process.env.BENCH_EXTRA_BUNDLES ?? '')
    .split(',')
    .filter((pair) => pair.includes('='))
    .map((pair) => {
      const at = pair.indexOf('=')
      return { name: pair.slice(0, at).trim(), bundle: otherBundle(pair.slice(at + 1).trim()) }
    })
}

// ---------------------------------------------------------------------------------------------
// The action, started as a runner starts it (as test/e2e/action.ts does, from the snapshot)

export interface Timed {
  ms: number
  ok: boolean
  detail: string
}

export interface ActionResult extends Timed {
  outputs: Record<string, string>
  summary: string
  stdout: string
}

/** The action from the benchmark's private copy of the bundle, through the tests' harness. */
export async function runAction(
  bundle: Bundle,
  inputs: Record<string, string>,
  workspace: string,
  timeoutMs = 600_000
): Promise<ActionResult> {
  const run = await runActionAsRunner(inputs, {
    script: bundle.entry,
    workspace,
    timeoutMs,
    env: {
      GITHUB_SHA: createHash('sha1').update(workspace).digest('hex'),
      GITHUB_ACTOR: 'bench',
      GITHUB_REF_NAME: 'bench'
    }
  })
  const ok = run.code === 0 && run.outputs.status === 'success'
  return {
    ms: run.ms,
    ok,
    detail: ok
      ? ''
      : `exit ${run.code}, status ${run.outputs.status}\n${run.stderr}\n${run.stdout.slice(-4000)}`,
    outputs: run.outputs,
    summary: run.summary,
    stdout: run.stdout
  }
}

/** The settings the action reads from those inputs, for the bench's own use of its step builders. */
export function settingsOf(inputs: Record<string, string>, workspace: string): Settings {
  return readSettings({ getInput: (name) => inputs[name] ?? '', workspace })
}

/** The action's inputs for the bench: those of the e2e tests, with a key and known_hosts. */
export function actionInputs(host: TestHost, overrides: Record<string, string> = {}) {
  return deployInputs(host, { 'health-timeout': '60', ...overrides })
}

// ---------------------------------------------------------------------------------------------
// The variants a benchmark compares

type Deployed = Timed & { summary?: string; stdout?: string; steps?: Map<string, number> }

export interface Variant {
  /** the name in tables and in BENCH_VARIANTS */
  name: string
  /** `broken`: a release whose WSGI import fails; `growth`: a bigger project (see `grow`) */
  deploy(host: TestHost, version: string, broken?: boolean, growth?: Growth): Promise<Deployed>
  /**
   * The action's variants only: the last deploy to this host once more, unchanged (the same
   * workspace, so the same files and commit, and the same inputs): the commit already live.
   */
  again?(host: TestHost): Promise<Deployed>
}

export const ACTION = 'action'
export const ONE_SCRIPT = 'recipe, one script'
export const STEP_BY_STEP = 'recipe, step by step'

/** More files for the fixture: static files in its app, and migrations that change nothing. */
export interface Growth {
  staticFiles: number
  migrations: number
}

/**
 * Adds `growth` to a copy of the fixture, the same files at every version (only the code change
 * differs between two deploys): small CSS files in notes/static/notes/more/, and a chain of
 * empty migrations after notes' 0001_initial.
 */
export function grow(project: string, growth: Growth): void {
  const folder = join(project, 'notes/static/notes/more')
  mkdirSync(folder, { recursive: true })
  for (let i = 1; i <= growth.staticFiles; i++) {
    writeFileSync(join(folder, `f${String(i).padStart(5, '0')}.css`), `.f${i} { order: ${i}; }\n`)
  }
  let previous = '0001_initial'
  for (let i = 2; i < growth.migrations + 2; i++) {
    const name = `${String(i).padStart(4, '0')}_more`
    writeFileSync(
      join(project, 'notes/migrations', `${name}.py`),
      [
        'from django.db import migrations',
        '',
        '',
        'class Migration(migrations.Migration):',
        `    dependencies = [('notes', '${previous}')]`,
        '    operations = []',
        ''
      ].join('\n')
    )
    previous = name
  }
}

/** The fixture at a version, with a real code change (a view edited), ready to upload. */
export function changedProject(
  version: string,
  broken = false,
  growth?: Growth
): { workspace: string; project: string } {
  const made = workspaceWith(version)
  if (growth) grow(made.project, growth)
  // BENCH_UPLOAD_MB: a file that does not compress, for deploys whose upload takes its time.
  const noise = envInt('BENCH_UPLOAD_MB', 0)
  if (noise > 0) writeFileSync(join(made.project, 'noise.bin'), randomBytes(noise * 1024 * 1024))
  edit(made.project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
  // A release that cannot boot: its WSGI import fails in gunicorn's workers (the Django
  // process's own import succeeds, so the new instance starts and fails its check).
  if (broken) breakUnderGunicorn(made.project)
  return made
}

/**
 * The variants named by BENCH_VARIANTS (comma separated: action, one-script, step-by-step), plus
 * one action variant per entry of BENCH_ACTION_VARIANTS, a JSON object of extra inputs by name,
 * e.g. '{"preload": {"gunicorn-args": "--preload"}}' adds "action (preload)". Extra inputs for
 * every action run: BENCH_ACTION_INPUTS, a JSON object.
 */
export function variants(bundle: Bundle, fallback: string[]): Variant[] {
  const common = JSON.parse(process.env.BENCH_ACTION_INPUTS || '{}') as Record<string, string>
  const action = (name: string, inputs: Record<string, string>, build = bundle): Variant => {
    /** the workspace each host was last deployed from */
    const last = new Map<string, string>()
    const run = (host: TestHost, workspace: string) => {
      last.set(host.name, workspace)
      return runAction(build, actionInputs(host, { ...common, ...inputs }), workspace)
    }
    return {
      name,
      deploy: (host, version, broken, growth) =>
        run(host, changedProject(version, broken, growth).workspace),
      again: (host) => {
        const workspace = last.get(host.name)
        if (!workspace) throw new Error(`${name}: nothing deployed to ${host.name} yet`)
        return run(host, workspace)
      }
    }
  }
  const known: Record<string, Variant> = {
    action: action(ACTION, {}),
    'one-script': {
      name: ONE_SCRIPT,
      deploy: (host, version, broken, growth) =>
        recipeOneScript(host, changedProject(version, broken, growth).project)
    },
    'step-by-step': {
      name: STEP_BY_STEP,
      deploy: (host, version, broken, growth) =>
        recipeStepByStep(host, changedProject(version, broken, growth).project)
    }
  }
  const chosen = envList('BENCH_VARIANTS', fallback).map((key) => {
    const variant = known[key]
    if (!variant)
      throw new Error(`BENCH_VARIANTS: unknown variant ${key} (${Object.keys(known).join(', ')})`)
    return variant
  })
  const extra = JSON.parse(process.env.BENCH_ACTION_VARIANTS || '{}') as Record<
    string,
    Record<string, string>
  >
  return [
    ...chosen,
    ...Object.entries(extra).map(([name, inputs]) => action(`${ACTION} (${name})`, inputs)),
    ...extraBundles().map((other) => action(`${ACTION} (${other.name})`, {}, other.bundle))
  ]
}

/** What the action runs with besides the defaults, for the header of a table. */
export function actionSettings(): string {
  const lines = []
  if (process.env.BENCH_ACTION_INPUTS)
    lines.push(`action inputs: ${process.env.BENCH_ACTION_INPUTS}`)
  if (process.env.BENCH_ACTION_VARIANTS)
    lines.push(`action variants: ${process.env.BENCH_ACTION_VARIANTS}`)
  for (const { name, bundle } of extraBundles())
    lines.push(`action (${name}): another build, index.js sha256 ${bundle.sha}`)
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Hosts

/** A fresh host, booted and settled (systemd done starting), named bench-<label>. */
export async function freshHost(label: string): Promise<TestHost> {
  const host = await bootHost(`bench-${label}`)
  // Boot jobs still running would be billed to whichever variant goes first.
  await host.exec('timeout 60 systemctl is-system-running --wait >/dev/null 2>&1; true')
  return host
}

/** Runs `body` with fresh hosts, one per label, and always stops them. */
export async function withHosts<T>(
  labels: string[],
  body: (hosts: TestHost[]) => Promise<T>
): Promise<T> {
  const booted = await Promise.allSettled(labels.map((label) => freshHost(label)))
  const hosts = booted.flatMap((b) => (b.status === 'fulfilled' ? [b.value] : []))
  try {
    const failed = booted.find((b) => b.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    return await body(hosts)
  } finally {
    await Promise.allSettled(hosts.map((h) => h.stop()))
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics and tables

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** The nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** Round `i` (0-based) runs the variants in this order: rotated, so none always goes first. */
export function rotation<T>(variants: readonly T[], round: number): T[] {
  const k = round % variants.length
  return [...variants.slice(k), ...variants.slice(0, k)]
}

export function table(header: string[], rows: Array<Array<string | number>>): string {
  const cells = [header, ...rows.map((r) => r.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`
  return [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...cells.slice(1).map(line)
  ].join('\n')
}

export const seconds = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : '–')
export const millis = (ms: number) => (Number.isFinite(ms) ? `${Math.round(ms)} ms` : '–')
export const ratio = (a: number, b: number) =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '–'

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}
