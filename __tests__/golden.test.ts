// The golden scripts (test/golden/): every step of two reference plans as the server runs it,
// committed so that a reviewer reads them; they must be what the code renders now, and pass
// shellcheck as dash (Debian's /bin/sh, which runs them). `npm run golden` writes them anew.

import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { createTwoFilesPatch } from 'diff'
import { ROOT } from '../test/e2e/action.js'
import { goldenFiles, goldenScripts } from '../test/golden/plans.js'

const GOLDEN = join(ROOT, 'test', 'golden')
const rendered = new Map(
  goldenScripts()
    .flatMap(goldenFiles)
    .map((g) => [g.file, g.text])
)

/** The golden scripts on disk, by their path under test/golden/. */
const committed = () =>
  readdirSync(GOLDEN, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.sh'))
    .map((e) => relative(GOLDEN, join(e.parentPath, e.name)))
    .sort()

if (process.env.GOLDEN_UPDATE) {
  for (const file of committed()) if (!rendered.has(file)) rmSync(join(GOLDEN, file))
  for (const [file, text] of rendered) {
    mkdirSync(dirname(join(GOLDEN, file)), { recursive: true })
    writeFileSync(join(GOLDEN, file), text)
  }
}

test('the committed golden scripts are what the code renders (npm run golden writes them)', () => {
  expect(committed()).toEqual([...rendered.keys()].sort())
  for (const [file, text] of rendered) {
    const before = readFileSync(join(GOLDEN, file), 'utf8')
    if (before !== text)
      throw new Error(
        `test/golden/${file} is not what the code renders: run \`npm run golden\` and review the change\n` +
          createTwoFilesPatch(`committed/${file}`, `rendered/${file}`, before, text, '', '', {
            context: 2
          }).slice(0, 4000)
      )
  }
})

test('every golden script passes shellcheck as dash, with nothing left to note', () => {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'))
  try {
    for (const [file, text] of rendered) {
      mkdirSync(dirname(join(dir, file)), { recursive: true })
      writeFileSync(join(dir, file), text)
    }
    const files = [...rendered.keys()]
    let said = ''
    try {
      execFileSync('shellcheck', ['-s', 'dash', '-f', 'gcc', ...files], {
        cwd: dir,
        encoding: 'utf8'
      })
    } catch (error) {
      said = String((error as { stdout?: string }).stdout ?? error)
    }
    expect(said).toBe('')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 60000)
