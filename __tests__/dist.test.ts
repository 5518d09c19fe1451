// Quick checks of the committed dist/ that need no build; `npm run check:dist` (part of
// `npm test`) builds src/ and compares the bundle with it.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROOT } from '../test/e2e/action.js'

/** Every file under the folder (dist/ and dist/post/), by its path inside it. */
const files = (folder: string) =>
  readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort()

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
