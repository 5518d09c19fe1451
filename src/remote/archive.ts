import { createHash } from 'node:crypto'
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import picomatch from 'picomatch'

/**
 * Never uploaded, whatever the exclude input says (`!pattern` cannot take them back): the
 * repository's history, with the token actions/checkout leaves in .git/config, and the credential
 * files other steps leave in the workspace. Each matches its name at any depth. Not *.pem or
 * *.key: projects ship CA bundles and certificates of their own.
 */
export const NEVER_UPLOADED = [
  '.git',
  // google-github-actions/auth
  'gha-creds-*.json',
  '.git-credentials',
  '.netrc',
  '_netrc',
  '.pypirc',
  '.npmrc',
  '.pgpass',
  // the folders of the AWS CLI, ssh and gpg
  '.aws',
  '.ssh',
  '.gnupg',
  // ssh-keygen's names for key pairs
  'id_rsa*',
  'id_dsa*',
  'id_ecdsa*',
  'id_ed25519*'
]

/** Returns whether a path (relative to the source folder) is left out by the exclude patterns. */
export function excluder(patterns: string[]): (relativePath: string) => boolean {
  // A pattern without a slash matches a name at any depth, as in .gitignore and rsync; a
  // trailing slash (`tmp/`) only says it is a folder, and does not anchor it at the root.
  // `!pattern` takes a path back in, as in .gitignore (the last matching pattern decides);
  // given to picomatch as it is, it would match every path but that one.
  const rules = patterns.map((pattern) => {
    const negated = pattern.startsWith('!')
    const body = negated ? pattern.slice(1) : pattern
    const match = picomatch(body.replace(/^\/|\/$/g, ''), {
      dot: true,
      basename: !body.replace(/\/$/, '').includes('/')
    })
    return { negated, match }
  })
  return (relativePath) => {
    const path = relativePath.replace(/^\.\//, '')
    if (path === '' || path === '.') return false
    const parts = path.split('/')
    // Excluding a folder excludes everything below it.
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      let excluded = false
      for (const rule of rules) if (rule.match(prefix)) excluded = !rule.negated
      if (excluded) return true
    }
    return false
  }
}

/** Returns whether a path is left out of the upload: by the patterns, or as never uploaded. */
export function uploadExcluder(exclude: string[]): (relativePath: string) => boolean {
  // Two matchers: a `!pattern` in `exclude` can only take back what `exclude` left out.
  const never = excluder(NEVER_UPLOADED)
  const excluded = excluder(exclude)
  return (relativePath) => never(relativePath) || excluded(relativePath)
}

/** Streams the source folder as a gzip tar, without the excluded paths; nothing touches disk. */
export function archiveStream(source: string, exclude: string[]): Readable {
  const isExcluded = uploadExcluder(exclude)
  // tar's stream is a Minipass; the SSH layer takes a Node stream.
  const stream = new PassThrough()
  // tar is loaded at the upload, not at start: the action's first SSH byte does not wait for it.
  import('tar')
    .then(({ create }) => {
      const pack = create(
        { gzip: { level: 6 }, cwd: source, portable: true, filter: (path) => !isExcluded(path) },
        ['.']
      )
      pack.on('error', (error: unknown) => stream.destroy(error as Error))
      pack.pipe(stream)
    })
    .catch((error: unknown) => stream.destroy(error as Error))
  return stream
}

/**
 * The files the upload sends (the same exclusions), in a fixed order: each path with its kind,
 * its executable bit and its content, or a link's target. Links are not followed, as tar does not.
 */
export function sourceDigest(source: string, exclude: string[]): string {
  const excluded = uploadExcluder(exclude)
  const hash = createHash('sha256')
  const walk = (dir: string, relative: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = relative ? `${relative}/${name}` : name
      if (excluded(path)) continue
      const full = join(dir, name)
      const stat = lstatSync(full)
      if (stat.isDirectory()) {
        hash.update(`d ${path}\0`)
        walk(full, path)
      } else if (stat.isSymbolicLink()) hash.update(`l ${path}\0${readlinkSync(full)}\0`)
      else if (stat.isFile()) {
        hash.update(`f ${path} ${stat.mode & 0o111 ? 'x' : '-'} ${stat.size}\0`)
        hash.update(readFileSync(full))
      }
    }
  }
  walk(source, '')
  return hash.digest('hex')
}

/** A file of a lock the runner downloads for a host (wheels: runner). */
export interface RunnerFile {
  name: string
  url?: string
  sha256: string
}

/** A wheel's or an sdist's file name as an index serves it: never a path. */
const FILE_NAME = /^[A-Za-z0-9_.+-]+\.(whl|tar\.gz|zip)$/

/**
 * Downloads each file (once per run: cached by its hash in `cache`), checks its sha256, and links
 * them into a folder of their own, returned: what the venv step's tar stream is made of. Throws
 * an Error naming the file that could not be had.
 */
export async function fetchLockedFiles(files: RunnerFile[], cache: string): Promise<string> {
  const { linkSync, copyFileSync, mkdirSync, mkdtempSync, existsSync, writeFileSync, renameSync } =
    await import('node:fs')
  mkdirSync(cache, { recursive: true })
  const folder = mkdtempSync(join(cache, 'send-'))
  for (const file of files) {
    if (!FILE_NAME.test(file.name) || file.name.startsWith('.'))
      throw new Error(`${file.name}: not a wheel's or sdist's file name`)
    const cached = join(cache, `${file.sha256}-${file.name}`)
    if (!existsSync(cached)) {
      if (!file.url)
        throw new Error(`the lock names no URL for ${file.name}: wheels: runner cannot download it`)
      // A lock's URL is the repository's to write: never waited on for ever.
      const response = await fetch(file.url, { signal: AbortSignal.timeout(300_000) })
      if (!response.ok) throw new Error(`${file.url}: HTTP ${response.status}`)
      const bytes = Buffer.from(await response.arrayBuffer())
      const sha256 = createHash('sha256').update(bytes).digest('hex')
      if (sha256 !== file.sha256)
        throw new Error(
          `${file.name} from ${file.url} has sha256 ${sha256}, not the lock's ${file.sha256}`
        )
      writeFileSync(`${cached}.part`, bytes)
      renameSync(`${cached}.part`, cached)
    }
    try {
      linkSync(cached, join(folder, file.name))
    } catch {
      copyFileSync(cached, join(folder, file.name))
    }
  }
  return folder
}
