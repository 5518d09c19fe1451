// What is uploaded as a release: the source folder without the exclude patterns, checked both
// through the matcher and through the real tar stream a server would unpack.

import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { archiveStream, excluder, NEVER_UPLOADED, uploadExcluder } from '../src/remote/archive.js'
import { DEFAULT_EXCLUDE } from '../src/constants.js'

const DEFAULTS = DEFAULT_EXCLUDE

describe('the upload with the default patterns', () => {
  const excluded = uploadExcluder(DEFAULTS)

  test('the defaults are the documented ones', () => {
    expect(DEFAULTS).toEqual(['__pycache__', '*.pyc', '.venv', 'node_modules'])
  })

  test.each([
    '.git',
    '.git/config',
    '.git/objects/ab/cdef',
    'app/__pycache__',
    'app/__pycache__/x.pyc',
    'app/__pycache__/views.cpython-312.pyc',
    'x.pyc',
    'app/deep/er/x.pyc',
    '.x.pyc',
    '.venv',
    '.venv/bin/python',
    'node_modules/left-pad/index.js',
    'frontend/node_modules/x/y.js',
    'vendor/.git/HEAD',
    './.git/config'
  ])('leaves out %s', (path) => {
    expect(excluded(path)).toBe(true)
  })

  test.each([
    'manage.py',
    'app/views.py',
    'app/__init__.py',
    // `.git` names the folder, not every name that starts with it.
    '.gitignore',
    '.github/workflows/deploy.yml',
    '.gitattributes',
    'app/.gitkeep',
    'x.pyc.txt',
    'pyc',
    'app/pycache/readme.md',
    '.venv-notes.md',
    'my.venv/readme',
    'node_modules.md',
    'requirements.txt',
    './manage.py'
  ])('keeps %s', (path) => {
    expect(excluded(path)).toBe(false)
  })

  test('the source folder itself is never excluded', () => {
    expect(excluded('.')).toBe(false)
    expect(excluded('')).toBe(false)
  })
})

describe('excluder with patterns of its own', () => {
  test('a pattern with a slash matches from the root only', () => {
    const excluded = excluder(['docs/build'])
    expect(excluded('docs/build')).toBe(true)
    expect(excluded('docs/build/index.html')).toBe(true)
    expect(excluded('app/docs/build/index.html')).toBe(false)
    expect(excluded('docs/buildings.txt')).toBe(false)
    expect(excluded('build')).toBe(false)
  })

  test('a leading slash anchors at the root, a trailing slash names a folder', () => {
    const excluded = excluder(['/media', 'tmp/'])
    expect(excluded('media/upload.png')).toBe(true)
    expect(excluded('app/media/icon.png')).toBe(false)
    expect(excluded('tmp/x')).toBe(true)
    expect(excluded('app/tmp/x')).toBe(true)
  })

  test('globs inside a rooted pattern', () => {
    const excluded = excluder(['static/*.map', 'docs/**/*.tmp'])
    expect(excluded('static/app.js.map')).toBe(true)
    expect(excluded('static/app.js')).toBe(false)
    expect(excluded('app/static/app.js.map')).toBe(false)
    expect(excluded('docs/a/b/c.tmp')).toBe(true)
  })

  test('a name pattern matches at any depth, including dot files', () => {
    const excluded = excluder(['*.sqlite3', '.env'])
    expect(excluded('db.sqlite3')).toBe(true)
    expect(excluded('app/data/db.sqlite3')).toBe(true)
    expect(excluded('.env')).toBe(true)
    expect(excluded('config/.env')).toBe(true)
    expect(excluded('.env.example')).toBe(false)
  })

  test('!pattern takes a path back in, as in .gitignore (and does not exclude everything else)', () => {
    const excluded = excluder(['*.pyc', '!vendor/keep.pyc'])
    expect(excluded('app/x.pyc')).toBe(true)
    expect(excluded('vendor/keep.pyc')).toBe(false)
    expect(excluded('manage.py')).toBe(false)
    expect(excluded('app/views.py')).toBe(false)
    // The last matching pattern decides.
    expect(excluder(['!x.pyc', '*.pyc'])('x.pyc')).toBe(true)
    // As in git, nothing comes back from inside an excluded folder.
    expect(excluder(['.venv', '!.venv/keep'])('.venv/keep')).toBe(true)
  })

  test('no patterns: nothing is left out', () => {
    expect(excluder([])('.git/config')).toBe(false)
  })
})

describe('never uploaded: .git and credential files, whatever exclude says', () => {
  const LEFT_OUT = [
    '.git',
    '.git/config',
    'vendor/lib/.git',
    'gha-creds-0123456789abcdef.json',
    'app/gha-creds-x.json',
    '.git-credentials',
    '.netrc',
    '_netrc',
    '.pypirc',
    '.npmrc',
    'frontend/.npmrc',
    '.pgpass',
    '.aws/credentials',
    '.aws/config',
    '.ssh/id_ed25519',
    'deploy/.ssh/known_hosts',
    '.gnupg/private-keys-v1.d/x.key',
    'id_rsa',
    'id_rsa.pub',
    'keys/id_ed25519',
    'keys/id_ecdsa_sk',
    'id_dsa'
  ]

  test.each(LEFT_OUT)('leaves out %s with no patterns', (path) => {
    expect(uploadExcluder([])(path)).toBe(true)
  })

  test.each(LEFT_OUT)('leaves out %s even when !patterns take it back', (path) => {
    const takeBack = [...NEVER_UPLOADED, path, path.split('/').pop()!].map((p) => `!${p}`)
    expect(uploadExcluder(['!**', '!*', ...takeBack])(path)).toBe(true)
  })

  test.each([
    'certs/ca.pem',
    'config/ca-bundle.crt',
    'tls/server.key',
    '.gitignore',
    '.gitattributes',
    '.github/workflows/deploy.yml',
    'app/netrc.py',
    'aws/storage.py',
    'ssh/tunnel.py',
    'app/identity.py',
    'docs/gha-creds.md',
    'credentials.json'
  ])('keeps %s', (path) => {
    expect(uploadExcluder([])(path)).toBe(false)
  })

  test('a !pattern still takes back a default, and the input adds to the defaults', () => {
    const excluded = uploadExcluder([...DEFAULTS, 'media/', '!node_modules'])
    expect(excluded('frontend/node_modules/x/index.js')).toBe(false)
    expect(excluded('media/upload.png')).toBe(true)
    expect(excluded('app/x.pyc')).toBe(true)
    expect(excluded('.git/config')).toBe(true)
  })
})

describe('archiveStream', () => {
  let source: string

  function write(path: string, text = path): void {
    const file = join(source, path)
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, text)
  }

  /** The entries of a gzip tar stream, as `tar -tzf -` lists them. */
  function list(stream: NodeJS.ReadableStream): Promise<string[]> {
    return new Promise((resolve, reject) => {
      const tar = execFile('tar', ['-tzf', '-'], (error, stdout) => {
        if (error) reject(error)
        else resolve(stdout.split('\n').filter((l) => l !== ''))
      })
      stream.on('error', reject)
      stream.pipe(tar.stdin!)
    })
  }

  /** Entries without the leading ./ and folders' trailing /, sorted. */
  const normalise = (entries: string[]) =>
    entries
      .map((e) => e.replace(/^\.\//, '').replace(/\/$/, ''))
      .filter((e) => e !== '.' && e !== '')
      .sort()

  // Jest runs each test file in a vm context of its own, whose Date is not node's: node-tar's
  // `mtime instanceof Date` then fails for fs.Stats dates and it writes a pax mtime that GNU tar
  // refuses. A plain node process (the action) has one realm; recognise node's dates here too.
  let hasInstance: PropertyDescriptor | undefined
  beforeAll(() => {
    hasInstance = Object.getOwnPropertyDescriptor(Date, Symbol.hasInstance)
    Object.defineProperty(Date, Symbol.hasInstance, {
      configurable: true,
      value: (value: unknown) => Object.prototype.toString.call(value) === '[object Date]'
    })
  })
  afterAll(() => {
    if (hasInstance) Object.defineProperty(Date, Symbol.hasInstance, hasInstance)
    else delete (Date as unknown as Record<symbol, unknown>)[Symbol.hasInstance]
  })

  beforeAll(() => {
    source = mkdtempSync(join(tmpdir(), 'archive-'))
    for (const path of [
      'manage.py',
      'requirements.txt',
      '.gitignore',
      '.github/workflows/deploy.yml',
      'mysite/__init__.py',
      'mysite/settings.py',
      'mysite/wsgi.py',
      'app/views.py',
      'app/__pycache__/views.cpython-312.pyc',
      'app/stale.pyc',
      'docs/build/index.html',
      'docs/index.md',
      'app/docs/build/keep.txt',
      '.git/config',
      '.git/objects/ab/cdef',
      'gha-creds-0123456789abcdef.json',
      '.git-credentials',
      '.aws/credentials',
      'deploy/.ssh/id_ed25519',
      'deploy/id_rsa',
      'certs/ca.pem',
      '.venv/bin/python',
      'frontend/node_modules/x/index.js',
      'frontend/src/app.js',
      'name with spaces.txt',
      'ünïcode-名前.txt'
    ]) {
      write(path)
    }
    symlinkSync('mysite/settings.py', join(source, 'settings-link.py'))
  })

  afterAll(() => rmSync(source, { recursive: true, force: true }))

  test('with the defaults and docs/build: exactly the expected files and folders', async () => {
    const entries = await list(archiveStream(source, [...DEFAULTS, 'docs/build']))
    expect(normalise(entries)).toEqual(
      [
        '.github',
        '.github/workflows',
        '.github/workflows/deploy.yml',
        '.gitignore',
        'app',
        'app/docs',
        'app/docs/build',
        'app/docs/build/keep.txt',
        'app/views.py',
        'certs',
        'certs/ca.pem',
        'deploy',
        'docs',
        'docs/index.md',
        'frontend',
        'frontend/src',
        'frontend/src/app.js',
        'manage.py',
        'mysite',
        'mysite/__init__.py',
        'mysite/settings.py',
        'mysite/wsgi.py',
        'name with spaces.txt',
        'requirements.txt',
        'settings-link.py',
        'ünïcode-名前.txt'
      ].sort()
    )
  })

  test('every entry stays inside the release folder (relative, no ..)', async () => {
    const entries = await list(archiveStream(source, DEFAULTS))
    expect(entries.length).toBeGreaterThan(0)
    for (const entry of entries) {
      expect(entry.startsWith('/')).toBe(false)
      expect(entry.split('/')).not.toContain('..')
    }
  })

  test('without patterns everything goes but .git and the credential files', async () => {
    const entries = normalise(await list(archiveStream(source, [])))
    expect(entries).toContain('.venv/bin/python')
    expect(entries).toContain('app/stale.pyc')
    expect(entries).toContain('certs/ca.pem')
    expect(entries.filter((e) => /\.git\/|creds|credentials|\.aws|\.ssh|id_rsa/.test(e))).toEqual(
      []
    )
  })

  test('!patterns cannot take .git or a credential file back', async () => {
    const takeBack = ['!.git', '!.git/config', '!gha-creds-*.json', '!.aws', '!.ssh', '!id_rsa']
    const entries = normalise(await list(archiveStream(source, ['*.pyc', ...takeBack])))
    expect(entries).toContain('manage.py')
    expect(entries).not.toContain('app/stale.pyc')
    expect(entries.filter((e) => /^\.git$|\.git\/|creds|\.aws|\.ssh|id_rsa/.test(e))).toEqual([])
  })
})

describe('archiveStream, when the upload cannot be made', () => {
  test('a source folder that is gone: the stream fails with the error, nothing is thrown', async () => {
    const gone = join(mkdtempSync(join(tmpdir(), 'dda-archive-')), 'gone')
    const stream = archiveStream(gone, [])
    const error = await new Promise<Error>((resolve) => stream.on('error', resolve))
    expect(error.message).toMatch(/ENOENT/)
  })
})
