// src/core.ts against @actions/core (a dev dependency kept for this): the same calls must write the
// same workflow commands, the same output, state and summary files, and the same exit code.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jest } from '@jest/globals'
import * as actions from '@actions/core'
import * as core from '../src/core.js'

type Core = typeof core
const files = ['OUTPUT', 'STATE', 'STEP_SUMMARY'] as const
let dir: string
let stdout: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dda-core-'))
  stdout = ''
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString()
    return true
  })
})

afterEach(() => {
  jest.restoreAllMocks()
  for (const f of files) delete process.env[`GITHUB_${f}`]
  process.exitCode = undefined
  rmSync(dir, { recursive: true, force: true })
})

/** What `calls` leaves: stdout, the runner's files (with the random delimiters named alike). */
async function effects(
  calls: (c: Core) => Promise<void> | void,
  implementation: Core
): Promise<Record<'stdout' | (typeof files)[number], string> & { exitCode: unknown }> {
  stdout = ''
  process.exitCode = undefined
  for (const f of files) {
    process.env[`GITHUB_${f}`] = join(dir, f)
    writeFileSync(join(dir, f), '')
  }
  await calls(implementation)
  const read = (f: string) => readFileSync(join(dir, f), 'utf8')
  const same = (text: string) => text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_X')
  return {
    stdout: same(stdout),
    exitCode: process.exitCode,
    OUTPUT: same(read('OUTPUT')),
    STATE: same(read('STATE')),
    STEP_SUMMARY: same(read('STEP_SUMMARY'))
  }
}

/** @actions/core with its summary as src/core.ts's appendSummary. */
const reference = {
  ...actions,
  appendSummary: async (markdown: string) => {
    await actions.summary.addRaw(markdown).write()
  }
} as unknown as Core

async function expectSame(calls: (c: Core) => Promise<void> | void) {
  const ours = await effects(calls, core)
  const theirs = await effects(calls, reference)
  expect(ours).toEqual(theirs)
  return ours
}

const awkward = 'a%b\r\nc:d,e\n::set-output name=x::y'

describe('core, as @actions/core does it', () => {
  test('outputs and state go to their files, values of every kind', async () => {
    const out = await expectSame((c) => {
      c.setOutput('status', 'success')
      c.setOutput('hosts', [{ host: 'a', status: 'success' }])
      c.setOutput('empty', '')
      c.setOutput('lines', 'one\ntwo')
      c.saveState('deployment-id', '42')
      c.saveState('deployment-final', true)
    })
    expect(out.OUTPUT).toContain('lines<<ghadelimiter_X\none\ntwo\nghadelimiter_X\n')
    expect(out.STATE).toContain('deployment-id<<ghadelimiter_X\n42\nghadelimiter_X\n')
  })

  test('without the files, outputs and state are commands on stdout', () => {
    const commands = (c: Core) => {
      stdout = ''
      c.setOutput('status', awkward)
      c.saveState('id', 7)
      return stdout
    }
    const ours = commands(core)
    expect(ours).toBe(commands(reference))
    expect(ours).toContain('::set-output name=status::a%25b%0D%0Ac:d,e%0A::set-output')
  })

  test('annotations, masks, info and groups, escaped alike', async () => {
    const out = await expectSame(async (c) => {
      c.setSecret('s3cr%t\nline')
      c.info(awkward)
      c.warning(awkward, { title: 'Host key: not checked, really' })
      c.warning(new Error('boom'))
      c.notice('note', { title: 'T', file: 'a,b.py', startLine: 3, endLine: 4, startColumn: 1 })
      c.error('plain', {})
      c.error('no title', { title: undefined })
      expect(await c.group('Upload', async () => 5)).toBe(5)
      await expect(
        c.group('Fails', async () => {
          throw new Error('inside')
        })
      ).rejects.toThrow('inside')
    })
    expect(out.stdout).toContain('::add-mask::s3cr%25t%0Aline\n')
    expect(out.stdout).toContain('::warning title=Host key%3A not checked%2C really::a%25b')
    expect(out.stdout).toContain('::endgroup::\n')
  })

  test('setFailed sets exit code 1 and writes an error', async () => {
    const out = await expectSame((c) => c.setFailed('Deploy failure: web1 failure'))
    expect(out.exitCode).toBe(1)
    expect(out.stdout).toBe('::error::Deploy failure: web1 failure\n')
  })

  test('the job summary is appended to', async () => {
    const out = await expectSame(async (c) => {
      await c.appendSummary('## Deployed\n')
      await c.appendSummary('| a | b |\n')
    })
    expect(out.STEP_SUMMARY).toBe('## Deployed\n| a | b |\n')
  })

  test('a summary without its file, or one it cannot write, is an error', async () => {
    await expect(core.appendSummary('x')).rejects.toThrow(
      'Unable to find environment variable for $GITHUB_STEP_SUMMARY'
    )
    process.env.GITHUB_STEP_SUMMARY = join(dir, 'absent', 'summary')
    await expect(core.appendSummary('x')).rejects.toThrow('Unable to access summary file')
  })

  test('inputs: names, trimming, required', () => {
    process.env['INPUT_PROJECT-NAME'] = '  mysite \n'
    process.env.INPUT_MY_INPUT = ' x '
    try {
      for (const [name, options] of [
        ['project-name', undefined],
        ['Project-Name', { trimWhitespace: false }],
        ['my input', {}],
        ['missing', {}]
      ] as const) {
        expect(core.getInput(name, options)).toBe(actions.getInput(name, options))
      }
      expect(() => core.getInput('missing', { required: true })).toThrow(
        'Input required and not supplied: missing'
      )
    } finally {
      delete process.env['INPUT_PROJECT-NAME']
      delete process.env.INPUT_MY_INPUT
    }
  })

  test('state for the post step', () => {
    process.env['STATE_deployment-id'] = '42'
    try {
      expect(core.getState('deployment-id')).toBe('42')
      expect(core.getState('deployment-final')).toBe(actions.getState('deployment-final'))
    } finally {
      delete process.env['STATE_deployment-id']
    }
  })
})
