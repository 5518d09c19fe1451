// The results file each full bench run writes (bench/results/<date>-<what>.md), and
// BENCHMARKS.md's promise that every figure names the run it comes from.
import { jest } from '@jest/globals'
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  commandLine,
  recorder,
  resultsFile,
  resultsName,
  whatOf,
  type Machine
} from '../bench/results.js'
import { ROOT } from '../test/e2e/action.js'

const machine: Machine = {
  cores: 2,
  model: 'AMD EPYC 7B13',
  memoryBytes: 23.5 * 2 ** 30,
  kernel: '6.18.44',
  node: 'v24.22.3',
  load: [1.3, 1.31, 1.42]
}

describe('the command a results file gives', () => {
  it('is the npm script with the settings that changed the run, to run it again', () => {
    const env = {
      PATH: '/usr/bin',
      HOME: '/root',
      BENCH_RUNS: '30',
      BENCH_EXTRA_BUNDLES: 'before-core=/tmp/before-core/dist/index.js',
      BENCH_ACTION_VARIANTS: '{"preload": {"gunicorn-args": "--preload"}}',
      BENCH_GROWTH: '',
      TESTHOST_PREFIX: 'b1'
    }
    expect(commandLine('startup', env)).toBe(
      `BENCH_ACTION_VARIANTS='{"preload": {"gunicorn-args": "--preload"}}' ` +
        'BENCH_EXTRA_BUNDLES=before-core=/tmp/before-core/dist/index.js BENCH_RUNS=30 ' +
        'TESTHOST_PREFIX=b1 npm run bench:startup'
    )
  })

  it('is the bare npm script when nothing was set', () => {
    expect(commandLine('speed', { PATH: '/usr/bin' })).toBe('npm run bench:speed')
  })

  it('quotes a single quote so the shell reads the value back', () => {
    expect(commandLine('speed', { BENCH_ACTION_INPUTS: "it's" })).toBe(
      `BENCH_ACTION_INPUTS='it'\\''s' npm run bench:speed`
    )
  })
})

describe('the name of a results file', () => {
  it('is the date and what was run, BENCH_NAME first when given', () => {
    expect(resultsName('2026-12-05', whatOf('startup', {}), [])).toBe('2026-12-05-startup.md')
    expect(whatOf('speed', { BENCH_NAME: 'Root boundary' })).toBe('root-boundary-speed')
  })

  it('does not replace a run of the same day', () => {
    const taken = ['2026-12-05-speed.md', '2026-12-05-speed-2.md', '2026-12-04-steps.md']
    expect(resultsName('2026-12-05', 'speed', taken)).toBe('2026-12-05-speed-3.md')
    expect(resultsName('2026-12-05', 'steps', taken)).toBe('2026-12-05-steps.md')
  })
})

describe('a results file', () => {
  const text = resultsFile({
    script: 'startup',
    title: 'Start-up: spawn to the first byte over SSH',
    command: 'BENCH_RUNS=30 npm run bench:startup',
    started: new Date('2026-12-05T17:20:31Z'),
    ended: new Date('2026-12-05T17:23:02Z'),
    machine,
    loadAtEnd: [2.5, 1.6, 1.5],
    body: '| round | action |\n|-------|-------:|\n| 1     | 89 ms  |\n'
  })

  it('says when it ran, the command and the machine, then what the script printed', () => {
    const lines = text.split('\n')
    expect(lines[0]).toBe('# Start-up: spawn to the first byte over SSH')
    expect(text).toContain('`bench/startup.ts`, 2026-12-05 17:20 to 17:23 UTC')
    expect(text).toContain('```sh\nBENCH_RUNS=30 npm run bench:startup\n```')
    for (const fact of [
      'cores: 2 (AMD EPYC 7B13)',
      'memory: 23.5 GiB',
      'kernel: 6.18.44',
      'Node: v24.22.3',
      'load average: 1.30 1.31 1.42 at the start, 2.50 1.60 1.50 at the end'
    ])
      expect(lines).toContain(fact)
    expect(text.endsWith('| 1     | 89 ms  |\n')).toBe(true)
  })

  it('names the day it ended when the run went past midnight', () => {
    const late = resultsFile({
      script: 'speed',
      title: 'Deploy wall time',
      command: 'npm run bench:speed',
      started: new Date('2026-12-05T23:58:00Z'),
      ended: new Date('2026-12-06T00:03:00Z'),
      machine,
      loadAtEnd: [1, 1, 1],
      body: ''
    })
    expect(late).toContain('2026-12-05 23:58 to 00:03 UTC (2026-12-06)')
  })
})

describe('a run recorded', () => {
  it('prints what the script reports and writes it, with its header, to the results folder', () => {
    const print = jest.spyOn(console, 'log').mockImplementation(() => undefined)
    const folder = join(mkdtempSync(join(tmpdir(), 'bench-results-')), 'results')
    try {
      const run = recorder('restart', 'Restart strategies under load', { BENCH_ROUNDS: '4' })
      run.line('| round: strategy | window |')
      run.line('| 1: restart      | 1.95 s |')
      const first = run.write(folder)
      const second = run.write(folder)
      expect(print).toHaveBeenCalledWith('| 1: restart      | 1.95 s |')
      const today = new Date().toISOString().slice(0, 10)
      expect(readdirSync(folder).sort()).toEqual([`${today}-restart-2.md`, `${today}-restart.md`])
      const text = readFileSync(first, 'utf8')
      expect(text).toContain('# Restart strategies under load')
      expect(text).toContain('BENCH_ROUNDS=4 npm run bench:restart')
      expect(text).toMatch(/^cores: \d+ \(.+\)\nmemory: [\d.]+ GiB\nkernel: .+\nNode: v\d+/m)
      expect(text).toContain('| round: strategy | window |\n| 1: restart      | 1.95 s |\n')
      expect(readFileSync(second, 'utf8')).toBe(text)
    } finally {
      print.mockRestore()
    }
  })
})

describe('BENCHMARKS.md', () => {
  const text = readFileSync(join(ROOT, 'BENCHMARKS.md'), 'utf8')

  it('stays short: the latest figures, the history in bench/results', () => {
    expect(text.trimEnd().split('\n').length).toBeLessThanOrEqual(150)
  })

  it('links every run it quotes, and each link names a results file that exists', () => {
    // Inline links, and the reference definitions the tables use: [speed]: bench/results/…
    const links = [...text.matchAll(/(?:\]\(|^\[[^\]]+\]:\s*)(bench\/results\/[^)\s#]+)/gm)].map(
      (m) => m[1]
    )
    expect(links.length).toBeGreaterThan(0)
    expect(links.filter((link) => !existsSync(join(ROOT, link)))).toEqual([])
  })
})
