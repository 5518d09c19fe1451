// What the action printed to the log (the runner reads its stdout) while a piece of a test ran,
// and what it wrote to the job summary.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jest } from '@jest/globals'

export async function logOf(body: () => Promise<unknown>): Promise<string> {
  const printed: string[] = []
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    printed.push(String(chunk))
    return true
  })
  try {
    await body()
  } finally {
    spy.mockRestore()
  }
  return printed.join('')
}

/** The job summary `write` wrote (GITHUB_STEP_SUMMARY a file of its own); its log kept quiet. */
export async function summaryOf(write: () => Promise<unknown>): Promise<string> {
  const summary = join(mkdtempSync(join(tmpdir(), 'dda-summary-')), 'summary.md')
  writeFileSync(summary, '')
  process.env.GITHUB_STEP_SUMMARY = summary
  try {
    await logOf(write)
  } finally {
    delete process.env.GITHUB_STEP_SUMMARY
    process.exitCode = 0
  }
  return readFileSync(summary, 'utf8')
}
