// Starts the action exactly as a GitHub runner does: `node dist/index.js` with INPUT_* variables
// and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / GITHUB_STATE files, and reads back what it wrote; and
// the post step, `node dist/post/index.js`, with the main step's saved state as STATE_* variables.
// The one harness for the end-to-end tests and the benchmarks (bench/lib.ts).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

export interface ActionRun {
  code: number
  /** the signal that ended the process (a test killed it), or null */
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** what the step saved for its post step (core.saveState) */
  state: Record<string, string>
  /** everything a user could see: log, outputs and summary */
  everything: string
  /** from the spawn to the process's end */
  ms: number
}

/** Parses the GITHUB_OUTPUT file format (name<<delimiter ... delimiter, or name=value). */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1)
      outputs[heredoc[1]] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (lines[i].includes('=')) {
      const at = lines[i].indexOf('=')
      outputs[lines[i].slice(0, at)] = lines[i].slice(at + 1)
    }
  }
  return outputs
}

export function runAction(
  inputs: Record<string, string>,
  options: {
    env?: Record<string, string>
    workspace?: string
    /** each chunk of the log as it comes; `child` is the action's process (to kill it) */
    onStdout?: (text: string, child: ChildProcess) => void
    /** which step of the action: the main one (default) or the post step */
    entry?: 'main' | 'post'
    /** the main step's saved state, as the runner passes it to the post step */
    state?: Record<string, string>
    /** a command the action is started under, e.g. ['unshare', '--net'] for no network at all */
    wrapper?: string[]
    /** the bundle's entry file to start instead of dist/ (a benchmark's private copy) */
    script?: string
    /** SIGKILL the action after this long */
    timeoutMs?: number
  } = {}
): Promise<ActionRun> {
  const folder = mkdtempSync(join(tmpdir(), 'dda-run-'))
  const outputFile = join(folder, 'output')
  const summaryFile = join(folder, 'summary')
  const stateFile = join(folder, 'state')
  for (const file of [outputFile, summaryFile, stateFile]) writeFileSync(file, '')
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_STATE: stateFile,
    GITHUB_WORKSPACE: options.workspace ?? ROOT,
    GITHUB_SHA: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d',
    GITHUB_REPOSITORY: 'example/mysite',
    GITHUB_RUN_ID: '4242',
    GITHUB_ACTOR: 'tester',
    GITHUB_REF_NAME: 'v1.0.0',
    RUNNER_TEMP: folder,
    ...options.env
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  for (const [name, value] of Object.entries(options.state ?? {})) env[`STATE_${name}`] = value
  const script =
    options.script ?? join(ROOT, options.entry === 'post' ? 'dist/post/index.js' : 'dist/index.js')
  const started = performance.now()
  return new Promise((resolvePromise, reject) => {
    const [command, ...args] = [...(options.wrapper ?? []), process.execPath, script]
    const child = spawn(command, args, {
      env,
      cwd: env.GITHUB_WORKSPACE
    })
    const timer = options.timeoutMs
      ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
      : undefined
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      options.onStdout?.(chunk.toString(), child)
    })
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      const outputText = readFileSync(outputFile, 'utf8')
      const summary = readFileSync(summaryFile, 'utf8')
      resolvePromise({
        code: code ?? -1,
        signal,
        stdout,
        stderr,
        outputs: parseOutputFile(outputText),
        summary,
        state: parseOutputFile(readFileSync(stateFile, 'utf8')),
        everything: [stdout, stderr, outputText, summary].join('\n'),
        ms
      })
    })
  })
}

/** The post step after a main step, with the state that step saved. */
export function runPost(
  inputs: Record<string, string>,
  main: Pick<ActionRun, 'state'>,
  options: { env?: Record<string, string>; workspace?: string } = {}
): Promise<ActionRun> {
  return runAction(inputs, { ...options, entry: 'post', state: main.state })
}
