// Shared parts of the benchmarks (issue #7): the action as a runner starts it, the hand-run recipe
// as the two baselines a user would write, test hosts, and the statistics and tables.
//
// Run the bench scripts with Node 24 through bench/register.mjs (see package.json `bench:*`).
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync
} from 'node:fs'
import { cpus, loadavg, release as osRelease, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT, parseOutputFile } from '../test/e2e/action.js'
import { deployInputs, edit, workspaceWith } from '../test/e2e/fixture.js'
import { bootHost, type TestHost } from '../test/e2e/testhost.js'

export { ROOT, deployInputs, edit, workspaceWith }
export type { TestHost }

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

export function machine(): string {
  const cpu = cpus()
  return [
    `cores: ${cpu.length} (${cpu[0]?.model.trim() ?? 'unknown'})`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `Node: ${process.version}`,
    `kernel: ${osRelease()}`,
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`
  ].join('\n')
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

export function runAction(
  bundle: Bundle,
  inputs: Record<string, string>,
  workspace: string,
  timeoutMs = 600_000
): Promise<ActionResult> {
  const folder = mkdtempSync(join(tmpdir(), 'dda-bench-run-'))
  const outputFile = join(folder, 'output')
  const summaryFile = join(folder, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: workspace,
    GITHUB_SHA: createHash('sha1').update(workspace).digest('hex'),
    GITHUB_REPOSITORY: 'example/mysite',
    GITHUB_RUN_ID: '4242',
    GITHUB_ACTOR: 'bench',
    GITHUB_REF_NAME: 'bench',
    RUNNER_TEMP: folder
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle.entry], { env, cwd: workspace })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'))
      const ok = code === 0 && outputs.status === 'success'
      resolve({
        ms,
        ok,
        detail: ok
          ? ''
          : `exit ${code}, status ${outputs.status}\n${stderr}\n${stdout.slice(-4000)}`,
        outputs,
        summary: readFileSync(summaryFile, 'utf8'),
        stdout
      })
    })
  })
}

/** The action's inputs for the bench: those of the e2e tests, with a key and known_hosts. */
export function actionInputs(host: TestHost, overrides: Record<string, string> = {}) {
  return deployInputs(host, { 'health-timeout': '60', ...overrides })
}

// ---------------------------------------------------------------------------------------------
// The hand-run recipe (/work/shared/seed/django-deploy-recipe.md) with OpenSSH

/** Where the recipe puts the project: /home/web/<project>, as its nginx site suggests. */
export const RECIPE_APP = '/home/web/mysite'

/** The gunicorn unit as the recipe writes it: TCP, root, no socket activation. */
export const RECIPE_UNIT = `[Unit]
Description=gunicorn daemon
After=network.target

[Service]
User=root
Group=root
WorkingDirectory=${RECIPE_APP}
ExecStart=${RECIPE_APP}/venv/bin/python3 -m gunicorn --bind 127.0.0.1:8000 mysite.wsgi:application

[Install]
WantedBy=multi-user.target
`

/** The recipe's site; only `/static/` is corrected (an alias to STATIC_ROOT) so it serves. */
export function recipeSite(serverName: string): string {
  return `server {
  listen 80;
  server_name ${serverName};
  location = /favicon.ico {
    access_log off;
    log_not_found off;
  }
  location /static/ {
    alias ${RECIPE_APP}/staticfiles/;
  }
  location / {
    include proxy_params;
    proxy_pass http://127.0.0.1:8000;
  }
}
`
}

export interface RecipeStep {
  name: string
  command: string
  /** stdin for the step; 'tarball' is the project as a gzip tar */
  stdin?: string | 'tarball'
}

/**
 * The recipe's steps in its order. The fixture's settings keep the SQLite database in
 * BASE_DIR/../../shared, so the upload makes /home/shared too. pip gets the same flags as the
 * action's (no version check: the test hosts have no network).
 */
export function recipeSteps(host: TestHost): RecipeStep[] {
  const inApp = (command: string) => `set -e; cd ${RECIPE_APP}; ${command}`
  return [
    {
      name: 'upload',
      command: `set -e; mkdir -p ${RECIPE_APP} /home/shared; tar -xzf - -C ${RECIPE_APP}`,
      stdin: 'tarball'
    },
    {
      name: 'venv',
      command: inApp('[ -d venv ] || python3 -m venv --system-site-packages venv')
    },
    {
      name: 'requirements',
      command: inApp(
        'venv/bin/pip install --disable-pip-version-check --no-input --quiet -r requirements.txt'
      )
    },
    { name: 'migrate', command: inApp('venv/bin/python manage.py migrate --noinput') },
    {
      name: 'collectstatic',
      command: inApp('venv/bin/python manage.py collectstatic --noinput')
    },
    {
      name: 'write the unit',
      command: 'cat > /etc/systemd/system/gunicorn.service',
      stdin: RECIPE_UNIT
    },
    {
      name: 'write the site',
      command: 'cat > /etc/nginx/sites-available/mysite',
      stdin: recipeSite(host.address)
    },
    { name: 'link', command: 'ln -sf /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/' },
    { name: 'nginx -t', command: 'nginx -t' },
    { name: 'daemon-reload', command: 'systemctl daemon-reload' },
    { name: 'restart gunicorn', command: 'systemctl restart gunicorn' },
    { name: 'restart nginx', command: 'systemctl restart nginx' },
    {
      name: 'curl until healthy',
      // Polled as often as the action's health check polls (every 0.25 s), for at most 60 s.
      command: `for i in $(seq 1 240); do curl -fsS -o /dev/null -H 'Host: ${host.address}' http://127.0.0.1/healthz && exit 0; sleep 0.25; done; exit 1`
    }
  ]
}

/** The project as the recipe uploads it: a gzip tar, without what the action also leaves out. */
export function tarball(project: string): Buffer {
  return execFileSync(
    'tar',
    [
      '-czf',
      '-',
      '-C',
      project,
      '--exclude=.git',
      '--exclude=__pycache__',
      '--exclude=*.pyc',
      '--exclude=.venv',
      '--exclude=node_modules',
      '.'
    ],
    { maxBuffer: 256 * 1024 * 1024 }
  )
}

/** OpenSSH as a user's workflow calls it: batch mode, a pinned known_hosts file, no config. */
export class OpenSsh {
  readonly host: TestHost
  readonly knownHosts: string
  readonly key: string
  private readonly target: string

  constructor(host: TestHost) {
    this.host = host
    const folder = mkdtempSync(join(tmpdir(), 'dda-bench-ssh-'))
    this.knownHosts = join(folder, 'known_hosts')
    writeFileSync(this.knownHosts, `${host.knownHosts}\n`)
    this.key = join(folder, 'id_ed25519')
    writeFileSync(this.key, readFileSync(host.keys.ed25519))
    chmodSync(this.key, 0o600)
    this.target = `root@${host.address}`
  }

  options(): string[] {
    return [
      '-F',
      '/dev/null',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${this.knownHosts}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'ControlMaster=no',
      '-o',
      'ControlPath=none',
      '-o',
      'ConnectTimeout=30',
      '-i',
      this.key
    ]
  }

  /** One `ssh host command` (one connection); rejects on a non-zero exit. */
  ssh(command: string, stdin?: string | Buffer, timeoutMs = 600_000): Promise<string> {
    return run('ssh', [...this.options(), this.target, command], stdin, timeoutMs)
  }

  scp(local: string, remote: string, timeoutMs = 600_000): Promise<string> {
    return run(
      'scp',
      [...this.options(), '-q', local, `${this.target}:${remote}`],
      undefined,
      timeoutMs
    )
  }
}

function run(
  cmd: string,
  args: string[],
  stdin?: string | Buffer,
  timeoutMs = 600_000
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let out = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.stdout.on('data', (c: Buffer) => (out += c.toString()))
    child.stderr.on('data', (c: Buffer) => (out += c.toString()))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out)
      else reject(new Error(`${cmd} exited ${code}: ${out.slice(-2000)}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(stdin ?? '')
  })
}

/** Each recipe step as its own ssh call; times each step too. */
export async function recipeStepByStep(
  host: TestHost,
  project: string
): Promise<Timed & { steps: Map<string, number> }> {
  const ssh = new OpenSsh(host)
  const steps = new Map<string, number>()
  const started = performance.now()
  try {
    for (const step of recipeSteps(host)) {
      const t = performance.now()
      const stdin = step.stdin === 'tarball' ? tarball(project) : step.stdin
      await ssh.ssh(step.command, stdin)
      steps.set(step.name, performance.now() - t)
    }
    return { ms: performance.now() - started, ok: true, detail: '', steps }
  } catch (error) {
    return { ms: performance.now() - started, ok: false, detail: (error as Error).message, steps }
  }
}

/**
 * What a user of a generic SSH action writes: the project as one tarball (scp), then one script
 * over one more ssh connection that unpacks it and runs the same steps.
 */
export async function recipeOneScript(host: TestHost, project: string): Promise<Timed> {
  const ssh = new OpenSsh(host)
  const started = performance.now()
  try {
    const local = join(mkdtempSync(join(tmpdir(), 'dda-bench-tar-')), 'mysite.tar.gz')
    writeFileSync(local, tarball(project))
    await ssh.scp(local, '/tmp/mysite.tar.gz')
    const steps = recipeSteps(host).map((step) => {
      if (step.stdin === 'tarball') return `( ${step.command} ) < /tmp/mysite.tar.gz`
      if (step.stdin !== undefined) {
        return `( ${step.command} ) <<'RECIPE_EOF'\n${step.stdin}RECIPE_EOF`
      }
      return `( ${step.command} )`
    })
    await ssh.ssh('bash -s', ['set -e', ...steps, 'rm -f /tmp/mysite.tar.gz', ''].join('\n'))
    return { ms: performance.now() - started, ok: true, detail: '' }
  } catch (error) {
    return { ms: performance.now() - started, ok: false, detail: (error as Error).message }
  }
}

// ---------------------------------------------------------------------------------------------
// The variants a benchmark compares

export interface Variant {
  /** the name in tables and in BENCH_VARIANTS */
  name: string
  deploy(
    host: TestHost,
    version: string
  ): Promise<Timed & { summary?: string; stdout?: string; steps?: Map<string, number> }>
}

export const ACTION = 'action'
export const ONE_SCRIPT = 'recipe, one script'
export const STEP_BY_STEP = 'recipe, step by step'

/** The fixture at a version, with a real code change (a view edited), ready to upload. */
export function changedProject(version: string): { workspace: string; project: string } {
  const made = workspaceWith(version)
  edit(made.project, 'notes/views.py', (text) => `${text}\n# ${version}\n`)
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
  const action = (name: string, inputs: Record<string, string>): Variant => ({
    name,
    deploy: (host, version) =>
      runAction(
        bundle,
        actionInputs(host, { ...common, ...inputs }),
        changedProject(version).workspace
      )
  })
  const known: Record<string, Variant> = {
    action: action(ACTION, {}),
    'one-script': {
      name: ONE_SCRIPT,
      deploy: (host, version) => recipeOneScript(host, changedProject(version).project)
    },
    'step-by-step': {
      name: STEP_BY_STEP,
      deploy: (host, version) => recipeStepByStep(host, changedProject(version).project)
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
    ...Object.entries(extra).map(([name, inputs]) => action(`${ACTION} (${name})`, inputs))
  ]
}

/** What the action runs with besides the defaults, for the header of a table. */
export function actionSettings(): string {
  const lines = []
  if (process.env.BENCH_ACTION_INPUTS)
    lines.push(`action inputs: ${process.env.BENCH_ACTION_INPUTS}`)
  if (process.env.BENCH_ACTION_VARIANTS)
    lines.push(`action variants: ${process.env.BENCH_ACTION_VARIANTS}`)
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
