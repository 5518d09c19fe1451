// The results file of a full run of a bench script: bench/results/<date>-<what>.md, with the
// command that ran it, the machine, the date and what the script printed (its per-round table
// and its summary). BENCHMARKS.md quotes the latest figures and links the file each comes from.
//
// Everything here but `recorder` is pure, so the unit tests check what a results file says.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release as kernelRelease, totalmem } from 'node:os'
import { join } from 'node:path'

/** What a figure depends on besides the code: the machine it was measured on. */
export interface Machine {
  cores: number
  model: string
  memoryBytes: number
  kernel: string
  node: string
  /** the load average (1, 5, 15 minutes) when it was read */
  load: number[]
}

export function thisMachine(): Machine {
  const cpu = cpus()
  return {
    cores: cpu.length,
    model: cpu[0]?.model.trim() || 'unknown',
    memoryBytes: totalmem(),
    kernel: kernelRelease(),
    node: process.version,
    load: loadavg()
  }
}

const loads = (load: number[]) => load.map((l) => l.toFixed(2)).join(' ')

/** The machine as the scripts' headers print it, one fact a line. */
export function describeMachine(m: Machine): string {
  return [
    `cores: ${m.cores} (${m.model})`,
    `memory: ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    `Node: ${m.node}`,
    `kernel: ${m.kernel}`,
    `load average at start: ${loads(m.load)}`
  ].join('\n')
}

/** The settings that change a run: the bench's own variables and the test hosts' prefix. */
const SETTING = /^(BENCH_\w+|TESTHOST_PREFIX)$/

/** A value as a shell reads it back unchanged. */
function quoted(value: string): string {
  return /^[\w./:=,@%+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

/** The command that ran `script` with these settings, to run it again. */
export function commandLine(script: string, env: NodeJS.ProcessEnv): string {
  const settings = Object.keys(env)
    .filter((name) => SETTING.test(name) && env[name] !== undefined && env[name] !== '')
    .sort()
    .map((name) => `${name}=${quoted(env[name] ?? '')}`)
  return [...settings, `npm run bench:${script}`].join(' ')
}

/** What the file names: `BENCH_NAME` (what the run measures, e.g. root-boundary), then the script. */
export function whatOf(script: string, env: NodeJS.ProcessEnv): string {
  const name = (env.BENCH_NAME ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
  return name ? `${name}-${script}` : script
}

/** `<date>-<what>.md`, or with -2, -3, … when a run of the same day already has that name. */
export function resultsName(date: string, what: string, taken: readonly string[]): string {
  const name = (n: number) => `${date}-${what}${n > 1 ? `-${n}` : ''}.md`
  let n = 1
  while (taken.includes(name(n))) n++
  return name(n)
}

export interface Results {
  /** bench/<script>.ts */
  script: string
  title: string
  command: string
  started: Date
  ended: Date
  /** read when the run started */
  machine: Machine
  /** the load average when it ended */
  loadAtEnd: number[]
  /** what the script printed: its per-round table and its summary */
  body: string
}

const day = (d: Date) => d.toISOString().slice(0, 10)
const minute = (d: Date) => d.toISOString().slice(11, 16)

export function resultsFile(r: Results): string {
  const m = r.machine
  return [
    `# ${r.title}`,
    '',
    `One full run of \`bench/${r.script}.ts\`, ${day(r.started)} ${minute(r.started)} to ` +
      `${minute(r.ended)} UTC${day(r.ended) === day(r.started) ? '' : ` (${day(r.ended)})`}:`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    'The machine:',
    '',
    '```',
    `cores: ${m.cores} (${m.model})`,
    `memory: ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB`,
    `kernel: ${m.kernel}`,
    `Node: ${m.node}`,
    `load average: ${loads(m.load)} at the start, ${loads(r.loadAtEnd)} at the end`,
    '```',
    '',
    r.body.trim(),
    ''
  ].join('\n')
}

/**
 * What a script prints, printed and kept; `write` puts it in `folder` as the run's results file
 * and returns its path.
 */
export function recorder(script: string, title: string, env: NodeJS.ProcessEnv = process.env) {
  const started = new Date()
  const machine = thisMachine()
  const lines: string[] = []
  return {
    machine,
    line(text = '') {
      console.log(text)
      lines.push(text)
    },
    write(folder: string, ended = new Date()): string {
      mkdirSync(folder, { recursive: true })
      const taken = existsSync(folder) ? readdirSync(folder) : []
      const file = join(folder, resultsName(day(started), whatOf(script, env), taken))
      const results: Results = {
        script,
        title,
        command: commandLine(script, env),
        started,
        ended,
        machine,
        loadAtEnd: loadavg(),
        body: lines.join('\n')
      }
      writeFileSync(file, resultsFile(results))
      return file
    }
  }
}

export type Recorder = ReturnType<typeof recorder>
