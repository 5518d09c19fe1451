import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { ROOT } from '../test/e2e/action.js'

/** Every file under the folder (dist/ and dist/post/), by its path inside it. */
const files = (folder: string) =>
  readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort()

test('the committed dist/ is what the bundle script builds from src/ now', () => {
  const fresh = join(mkdtempSync(join(tmpdir(), 'dda-dist-')), 'dist')
  execFileSync(process.execPath, ['scripts/bundle.mjs', fresh], { cwd: ROOT, stdio: 'pipe' })
  const committed = join(ROOT, 'dist')
  expect(files(committed)).toEqual(files(fresh))
  for (const file of files(fresh)) {
    const same = readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file)))
    if (!same) throw new Error(`dist/${file} is stale: run \`npm run bundle\` and commit dist/`)
  }
}, 120000)

test('dist/ holds no native addons and starts as ESM', () => {
  expect(files(join(ROOT, 'dist')).filter((f) => /\.(node|exe)$/.test(f))).toEqual([])
  for (const entry of ['dist', 'dist/post'])
    expect(JSON.parse(readFileSync(join(ROOT, entry, 'package.json'), 'utf8'))).toEqual({
      type: 'module'
    })
})

test('the tests run on Node 24, the version runners start the action with', () => {
  expect(process.versions.node.split('.')[0]).toBe('24')
})
