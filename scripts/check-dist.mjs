// Checks that the committed dist/ is what src/ builds now (action.yml runs dist/, not src/):
// builds into a temporary folder with scripts/bundle.mjs and compares the two, file by file.
// `npm run check:dist`; exits 1 naming the files that differ.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

// From the repository's root, wherever it is started.
process.chdir(new URL('..', import.meta.url).pathname)

/** Every file under the folder (dist/ and dist/post/), by its path inside it. */
const files = (folder) =>
  readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)))
    .sort()

/** What differs between the committed dist/ and a fresh build, one line per file. */
function differences(fresh) {
  const built = files(fresh)
  const committed = files('dist')
  return [
    ...built.filter((f) => !committed.includes(f)).map((f) => `dist/${f} is missing`),
    ...committed.filter((f) => !built.includes(f)).map((f) => `dist/${f} is not built any more`),
    ...built
      .filter((f) => committed.includes(f))
      .filter((f) => !readFileSync(join(fresh, f)).equals(readFileSync(join('dist', f))))
      .map((f) => `dist/${f} differs`)
  ]
}

const temporary = mkdtempSync(join(tmpdir(), 'dda-dist-'))
try {
  const fresh = join(temporary, 'dist')
  execFileSync(process.execPath, ['scripts/bundle.mjs', fresh], { stdio: 'inherit' })
  const differ = differences(fresh)
  if (differ.length > 0) {
    // On a GitHub runner the first line is an error annotation of the check.
    const mark = process.env.GITHUB_ACTIONS === 'true' ? '::error::' : ''
    console.error(
      `${mark}dist/ is stale: run \`npm run bundle\` and commit dist/.\n  ${differ.join('\n  ')}`
    )
    process.exitCode = 1
  } else {
    console.log(`dist/ is what src/ builds now (${files(fresh).length} files).`)
  }
} catch {
  // The bundle script said why it could not build.
  process.exitCode = 1
} finally {
  rmSync(temporary, { recursive: true, force: true })
}
