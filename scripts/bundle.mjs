// Builds dist/ from src/ with ncc: the ESM files the runner starts (`node dist/index.js`, and
// `node dist/post/index.js` after the job's steps).
// `node scripts/bundle.mjs OUT` builds into OUT instead (the freshness test compares the two).
import { execFileSync } from 'node:child_process'
import { readdirSync, rmSync } from 'node:fs'

const out = process.argv[2] ?? 'dist'
rmSync(out, { recursive: true, force: true })
// ncc builds one entry per call: the main step, and the post step (action.yml `post:`).
for (const [entry, folder] of [
  ['src/index.ts', out],
  ['src/post.ts', `${out}/post`]
]) {
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
}
// ssh2's Windows agent helper; this action runs on Linux runners.
rmSync(`${out}/pagent.exe`, { force: true })
// ssh2 falls back to pure JavaScript crypto; a native addon would tie dist/ to one machine.
const native = readdirSync(out, { recursive: true }).filter((f) => String(f).endsWith('.node'))
if (native.length > 0) {
  console.error(`${out}/ holds native addons (${native.join(', ')}): install with --ignore-scripts`)
  process.exit(1)
}
