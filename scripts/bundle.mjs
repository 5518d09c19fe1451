// Builds dist/ from src/ with ncc: the ESM files the runner starts (`node dist/index.js`, and
// `node dist/post/index.js` after the job's steps).
// `node scripts/bundle.mjs OUT` builds into OUT instead (the freshness test compares the two).
import { execFileSync } from 'node:child_process'
import { readdirSync, renameSync, rmSync } from 'node:fs'

const out = process.argv[2] ?? 'dist'
// Built beside it and swapped in at the end: a failed build leaves the previous bundle in place.
const build = `${out}.building-${process.pid}`
rmSync(build, { recursive: true, force: true })
// ncc builds one entry per call: the main step, and the post step (action.yml `post:`).
for (const [entry, folder] of [
  ['src/index.ts', build],
  ['src/post.ts', `${build}/post`]
]) {
  try {
    execFileSync(
      process.execPath,
      [
        'node_modules/@vercel/ncc/dist/ncc/cli.js',
        'build',
        entry,
        '-o',
        folder,
        '--license',
        'licenses.txt',
        '--target',
        'es2023',
        '-q'
      ],
      { stdio: 'inherit' }
    )
  } catch {
    rmSync(build, { recursive: true, force: true })
    console.error(`ncc could not build ${entry}; ${out}/ is unchanged`)
    process.exit(1)
  }
}
// ssh2's Windows agent helper; this action runs on Linux runners.
rmSync(`${build}/pagent.exe`, { force: true })
// ssh2 falls back to pure JavaScript crypto; a native addon would tie dist/ to one machine.
const native = readdirSync(build, { recursive: true }).filter((f) => String(f).endsWith('.node'))
if (native.length > 0) {
  rmSync(build, { recursive: true, force: true })
  console.error(
    `the bundle holds native addons (${native.join(', ')}): install with --ignore-scripts`
  )
  process.exit(1)
}
rmSync(out, { recursive: true, force: true })
renameSync(build, out)
