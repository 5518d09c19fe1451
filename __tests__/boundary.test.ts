// The root boundary's operations (src/server/boundary.ts), run for real as root on trees in a
// temporary folder, each attacked with a link and a rename at every path component it touches:
// before it runs (what a build leaves), and while it runs (an unprivileged "app user" acting at
// the moment root has reached a component, forced by a hook, not hoped for). After each, nothing
// outside the deploy path changed: content, owner and mode.
import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BOUNDARY_PY, NOT_READY, type BoundaryOp } from '../src/server/boundary.js'

// The app user of these tests: an account every Debian system has, with no rights of its own.
const APP = 'nobody'
const APP_GROUP = 'nogroup'
const APP_UID = 65534

const root = process.getuid?.() === 0
const maybe = root ? describe : describe.skip

let base: string
let deploy: string
let outside: string

/** Runs the operations as root; `attack`, when given, runs as the app user at `at`. */
function run(
  ops: BoundaryOp[],
  attack?: { at: 'open' | 'listdir' | 'rename'; name: string; script: string }
): { code: number; stdout: string; stderr: string } {
  const program = join(base, 'boundary.py')
  writeFileSync(program, BOUNDARY_PY)
  // The hook wraps os.open or os.listdir in root's own process: when root has just opened (or
  // listed) `name`, the app user runs `script`, then root goes on.
  const hook = `
import json, os, subprocess, sys
attack = json.loads(os.environ.get('ATTACK') or 'null')
if attack:
    real = getattr(os, attack['at'])
    fired = []
    def hooked(*args, **kwargs):
        name = os.readlink('/proc/self/fd/%d' % args[0]) if isinstance(args[0], int) else args[0]
        # A rename is attacked before it happens; an open or a listing once it has.
        before = attack['at'] == 'rename'
        result = None if before else real(*args, **kwargs)
        if not fired and str(name).endswith(attack['name']):
            fired.append(1)
            subprocess.run(['setpriv', '--reuid=${APP_UID}', '--regid=${APP_UID}', '--clear-groups', 'sh', '-c', attack['script']], cwd='/')
        return real(*args, **kwargs) if before else result
    setattr(os, attack['at'], hooked)
program = sys.argv.pop(1)
exec(compile(open(program).read(), program, 'exec'))
`
  const result = spawnSync(
    'python3',
    ['-I', '-S', '-c', hook, program, JSON.stringify(ops), deploy],
    {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, ATTACK: attack ? JSON.stringify(attack) : '' }
    }
  )
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr }
}

/** Owner, mode and content of everything in the folder outside the deploy path. */
function state(folder = outside): string {
  const lines: string[] = []
  const walk = (path: string) => {
    const st = lstatSync(path)
    const content = st.isFile() ? readFileSync(path, 'base64') : ''
    lines.push(`${path} ${st.uid}:${st.gid} ${st.mode.toString(8)} ${st.nlink} ${content}`)
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name))
  }
  walk(folder)
  return lines.join('\n')
}

const owner = (path: string) => lstatSync(path).uid
const mode = (path: string) => (lstatSync(path).mode & 0o7777).toString(8)
const asApp = (path: string) => chownSync(path, APP_UID, APP_UID)

/** A tree of folders and files below `path`, all the app user's when `app`. */
function tree(path: string, app: boolean): void {
  mkdirSync(join(path, 'pkg/sub'), { recursive: true })
  writeFileSync(join(path, 'pkg/mod.py'), 'VALUE = 1\n')
  writeFileSync(join(path, 'pkg/sub/deep.txt'), 'deep\n')
  writeFileSync(join(path, 'run.sh'), '#!/bin/sh\n', { mode: 0o4755 })
  if (app)
    for (const p of ['', 'pkg', 'pkg/sub', 'pkg/mod.py', 'pkg/sub/deep.txt', 'run.sh'])
      asApp(join(path, p))
}

/** Each component of `rel` below `from` in turn replaced by a link to `to` (the folder kept aside). */
function* linkedAtEachComponent(from: string, rel: string, to: string): Generator<string> {
  const parts = rel.split('/')
  for (let i = 1; i <= parts.length; i++) {
    const component = join(from, ...parts.slice(0, i))
    renameSync(component, `${component}.aside`)
    symlinkSync(to, component)
    yield parts.slice(0, i).join('/')
    rmSync(component)
    renameSync(`${component}.aside`, component)
  }
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'boundary-'))
  // The app user must reach the deploy path, as on a server.
  chmodSync(base, 0o755)
  deploy = join(base, 'srv/app')
  outside = join(base, 'etc')
  mkdirSync(join(deploy, 'releases/r1'), { recursive: true })
  mkdirSync(join(outside, 'cron.d'), { recursive: true })
  writeFileSync(join(outside, 'shadow'), 'root:secret\n', { mode: 0o600 })
  writeFileSync(join(outside, 'secret.py'), 'SECRET = "s3cr3t"\n', { mode: 0o600 })
})
afterEach(() => rmSync(base, { recursive: true, force: true }))

maybe('the root boundary, attacked at every component', () => {
  test('folder: a link at any component of the path is refused, naming it; nothing outside changes', () => {
    const release = join(deploy, 'releases/r1')
    tree(release, false)
    const before = state()
    for (const at of linkedAtEachComponent(deploy, 'releases/r1/pkg/sub', outside)) {
      const result = run([
        {
          op: 'folder',
          path: join(release, 'pkg/sub/static'),
          owner: { user: APP, group: APP_GROUP },
          mode: '755'
        }
      ])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`refused: ${deploy}/${at} is a link or not a folder`)
      expect(state()).toBe(before)
    }
    const made = run([
      {
        op: 'folder',
        path: join(release, 'pkg/sub/static'),
        owner: { user: APP, group: APP_GROUP },
        mode: '2750'
      }
    ])
    expect(made.code).toBe(0)
    expect([owner(join(release, 'pkg/sub/static')), mode(join(release, 'pkg/sub/static'))]).toEqual(
      [APP_UID, '2750']
    )
  })

  test('take: links at every level are taken as links, hard links and FIFOs removed, set-id bits gone', () => {
    const release = join(deploy, 'releases/r1')
    tree(release, true)
    // What a build leaves: links to a folder and to a file outside at every level, a hard link
    // to a root file (possible where protected_hardlinks is off), a FIFO.
    symlinkSync(outside, join(release, 'linked-dir'))
    symlinkSync(join(outside, 'shadow'), join(release, 'pkg/shadow'))
    symlinkSync(outside, join(release, 'pkg/sub/etc'))
    linkSync(join(outside, 'shadow'), join(release, 'pkg/sub/hard'))
    execFileSync('mkfifo', [join(release, 'pkg/fifo')])
    const before = state()
    const result = run([{ op: 'take', path: release, group: APP_GROUP, mode: 'code' }])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('removed pkg/sub/hard')
    expect(result.stdout).toContain('removed pkg/fifo')
    // The hard link's other name, outside, lost one link; nothing else changed there.
    expect(state().replace(/ 1 cm9vd/, ' 2 cm9vd')).toBe(before)
    for (const p of ['', 'pkg', 'pkg/sub', 'pkg/mod.py', 'linked-dir', 'pkg/shadow', 'pkg/sub/etc'])
      expect(owner(join(release, p))).toBe(0)
    expect(mode(join(release, 'pkg'))).toBe('751')
    expect(mode(join(release, 'pkg/mod.py'))).toBe('640')
    expect(mode(join(release, 'run.sh'))).toBe('750')
    expect(mode(join(outside, 'shadow'))).toBe('600')
  })

  test('take, for a tree the app had: a root file the app moved in from a folder it writes is removed, never opened up', () => {
    const release = join(deploy, 'releases/r1')
    tree(release, true)
    // A root-only file in shared/ (an admin's manage.py run as root left it): the app may
    // rename it, not read it; moved into its tree, root's take would have made it readable.
    mkdirSync(join(deploy, 'shared'))
    asApp(join(deploy, 'shared'))
    writeFileSync(join(deploy, 'shared/root-made.log'), 'ROOT-ONLY', { mode: 0o600 })
    execFileSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'mv',
      join(deploy, 'shared/root-made.log'),
      join(release, 'pkg/')
    ])
    // A root file sealed as code stays (the release's own, which the app could not change).
    writeFileSync(join(release, 'sealed.py'), 'X = 1\n', { mode: 0o640 })
    chownSync(join(release, 'sealed.py'), 0, APP_UID)
    const result = run([{ op: 'take', path: release, group: APP_GROUP, mode: 'code', user: APP }])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('removed pkg/root-made.log')
    expect(readdirSync(join(release, 'pkg'))).not.toContain('root-made.log')
    expect([owner(join(release, 'sealed.py')), mode(join(release, 'sealed.py'))]).toEqual([
      0,
      '640'
    ])
    expect([owner(join(release, 'pkg/mod.py')), mode(join(release, 'pkg/mod.py'))]).toEqual([
      0,
      '640'
    ])
  })

  test("take: the app renaming a folder for a link while root works below finds it root's already", () => {
    const release = join(deploy, 'releases/r1')
    tree(release, true)
    const before = state()
    // As root lists pkg/sub, the app tries to swap pkg/sub and pkg for links to outside.
    const result = run([{ op: 'take', path: release, group: APP_GROUP, mode: 'public' }], {
      at: 'listdir',
      name: 'pkg/sub',
      script: `cd ${release}/pkg && mv sub sub.old; ln -s ${outside} sub; cd .. && mv pkg pkg.old; ln -s ${outside} pkg; true`
    })
    // The app tried, and was refused: root had made each folder its own before looking into it.
    expect(result.stderr).toMatch(/mv: cannot move 'sub' to 'sub.old': Permission denied/)
    expect(result.stderr).toMatch(/mv: cannot move 'pkg' to 'pkg.old': Permission denied/)
    expect(result.code).toBe(0)
    expect(state()).toBe(before)
    expect(lstatSync(join(release, 'pkg/sub')).isDirectory()).toBe(true)
    expect(owner(join(release, 'pkg/sub/deep.txt'))).toBe(0)
    expect(mode(join(release, 'pkg/sub/deep.txt'))).toBe('644')
  })

  test('hand: deepest first, links handed as links, files of several links kept; a swap mid-way changes nothing outside', () => {
    const release = join(deploy, 'releases/r1')
    tree(release, false)
    symlinkSync(join(outside, 'shadow'), join(release, 'pkg/shadow'))
    linkSync(join(outside, 'shadow'), join(release, 'pkg/hard'))
    const before = state()
    const result = run(
      [{ op: 'hand', path: release, user: APP, except: 'pkg/sub' }],
      // As root opens pkg, the app tries to swap it for a link (pkg is still root's).
      {
        at: 'open',
        name: 'pkg',
        script: `cd ${release} && mv pkg pkg.old; ln -s ${outside} pkg; true`
      }
    )
    expect(result.code).toBe(0)
    expect(state()).toBe(before)
    expect(owner(join(release, 'pkg'))).toBe(APP_UID)
    expect(owner(join(release, 'pkg/shadow'))).toBe(APP_UID)
    expect(owner(join(release, 'pkg/hard'))).toBe(0)
    expect(owner(join(release, 'pkg/sub'))).toBe(0)
  })

  test("link: only root's files, from a path reached without a link; a link on the way links nothing", () => {
    const previous = join(deploy, 'releases/r0')
    const staticRoot = join(deploy, 'releases/r1/assets/static')
    mkdirSync(join(previous, 'assets/static/css'), { recursive: true })
    mkdirSync(staticRoot, { recursive: true })
    writeFileSync(join(previous, 'assets/static/css/site.css'), 'body{}')
    writeFileSync(join(previous, 'assets/static/app.js'), 'x')
    asApp(join(previous, 'assets/static/app.js'))
    symlinkSync(join(outside, 'shadow'), join(previous, 'assets/static/shadow'))
    const before = state()
    for (const at of linkedAtEachComponent(join(deploy, 'releases'), 'r0/assets/static', outside)) {
      const result = run([{ op: 'link', from: join(previous, 'assets/static'), path: staticRoot }])
      expect([at, result.code, readdirSync(staticRoot)]).toEqual([at, 0, []])
      expect(state()).toBe(before)
    }
    expect(
      run([{ op: 'link', from: join(previous, 'assets/static'), path: staticRoot }]).code
    ).toBe(0)
    expect(readdirSync(staticRoot).sort()).toEqual(['css'])
    expect(lstatSync(join(staticRoot, 'css/site.css')).nlink).toBe(2)
  })

  test('venv: a planted .complete or .built link is never written through; no .built, no venv', () => {
    const venv = join(deploy, 'venvs/k1')
    mkdirSync(join(venv, 'bin'), { recursive: true })
    symlinkSync('/usr/bin/python3', join(venv, 'bin/python'))
    asApp(venv)
    symlinkSync(join(outside, 'shadow'), join(venv, '.complete'))
    symlinkSync(join(outside, 'shadow'), join(venv, '.built'))
    const before = state()
    const op: BoundaryOp = {
      op: 'venv',
      path: venv,
      tree: venv,
      mode: 'public',
      group: APP_GROUP,
      user: APP
    }
    const stopped = run([op])
    expect(stopped.code).toBe(3)
    expect(stopped.stderr).toContain('the venv build was stopped before it ended')
    rmSync(join(venv, '.built'))
    writeFileSync(join(venv, '.built'), '')
    asApp(venv)
    const done = run([op])
    expect(done.code).toBe(0)
    expect(state()).toBe(before)
    expect(lstatSync(join(venv, '.complete')).isFile()).toBe(true)
    expect(owner(join(venv, '.complete'))).toBe(0)
    expect(run([{ op: 'ready', path: venv }]).code).toBe(0)
  })

  test('venv: a walk that stops half-way leaves no mark, whatever the app planted', () => {
    const venv = join(deploy, 'venvs/k1')
    mkdirSync(venv, { recursive: true })
    // Deeper than Python's recursion limit: the walk stops with an error.
    mkdirSync(join(venv, 'd/'.repeat(1100)), { recursive: true })
    writeFileSync(join(venv, '.built'), '')
    writeFileSync(join(venv, '.complete'), '')
    execFileSync('chown', ['-R', `${APP_UID}:${APP_UID}`, venv])
    const op: BoundaryOp = {
      op: 'venv',
      path: venv,
      tree: venv,
      mode: 'public',
      group: APP_GROUP,
      user: APP
    }
    expect(run([op]).code).not.toBe(0)
    expect(run([{ op: 'ready', path: venv }]).code).toBe(NOT_READY)
  })

  test("hand: only from root's folders", () => {
    const release = join(deploy, 'releases/r1')
    tree(release, false)
    asApp(join(release, 'pkg'))
    const result = run([{ op: 'hand', path: release, user: APP }])
    expect(result.stderr).toContain("refused: pkg is not root's to hand over")
  })

  test('ready: a mark the app made, or a venv the app owns, is not a complete venv', () => {
    const venv = join(deploy, 'venvs/k1')
    mkdirSync(venv, { recursive: true })
    writeFileSync(join(venv, '.complete'), '')
    asApp(join(venv, '.complete'))
    expect(run([{ op: 'ready', path: venv }]).code).toBe(NOT_READY)
    chownSync(join(venv, '.complete'), 0, 0)
    asApp(venv)
    expect(run([{ op: 'ready', path: venv }]).code).toBe(NOT_READY)
    chownSync(venv, 0, 0)
    expect(run([{ op: 'ready', path: venv }]).code).toBe(0)
    // The operations after it run only when the venv is complete.
    const after: BoundaryOp = { op: 'remove', path: venv, names: ['.complete'] }
    expect(run([{ op: 'ready', path: venv }, after]).code).toBe(0)
    expect(run([{ op: 'ready', path: venv }, after]).code).toBe(NOT_READY)
    writeFileSync(join(venv, '.complete'), '')
    for (const at of linkedAtEachComponent(deploy, 'venvs/k1', join(base, 'elsewhere'))) {
      expect([at, run([{ op: 'ready', path: venv }]).code]).toEqual([at, NOT_READY])
    }
  })

  test("compile: a linked source or __pycache__ is passed by; the pycs are root's, the group's to read, and load", () => {
    const release = join(deploy, 'releases/r1')
    tree(release, false)
    symlinkSync(join(outside, 'secret.py'), join(release, 'leak.py'))
    symlinkSync(join(outside, 'cron.d'), join(release, 'pkg/sub/__pycache__'))
    writeFileSync(join(release, 'pkg/sub/code.py'), 'X = 2\n')
    mkdirSync(join(release, '.venv'))
    writeFileSync(join(release, '.venv/skip.py'), 'Y = 3\n')
    const before = state()
    const result = run([{ op: 'compile', path: release, group: APP_GROUP, skip: ['.venv'] }])
    expect(result.code).toBe(0)
    expect(state()).toBe(before)
    const tag = execFileSync('python3', ['-c', 'import sys; print(sys.implementation.cache_tag)'], {
      encoding: 'utf8'
    }).trim()
    const pyc = join(release, `pkg/__pycache__/mod.${tag}.pyc`)
    expect([owner(pyc), lstatSync(pyc).gid, mode(pyc)]).toEqual([0, APP_UID, '640'])
    expect(readdirSync(release)).not.toContain('__pycache__')
    expect(readdirSync(join(release, '.venv'))).toEqual(['skip.py'])
    // Python takes the pyc as up to date (it would otherwise compile the source again).
    const loaded = execFileSync(
      'python3',
      [
        '-c',
        `import sys; sys.dont_write_bytecode = True; sys.path.insert(0, '${release}'); import importlib.util, pkg.mod; print(pkg.mod.__spec__.cached, pkg.mod.VALUE)`
      ],
      { encoding: 'utf8' }
    )
    expect(loaded.trim()).toBe(`${pyc} 1`)
  })

  test('keep: a link or a hard link is never kept; a name swapped after the check keeps the file checked', () => {
    const work = join(deploy, 'backups/.new-r1')
    const target = join(deploy, 'backups/r1.sqlite3')
    mkdirSync(work, { recursive: true })
    asApp(work)
    const before = state()
    const keep: BoundaryOp = { op: 'keep', path: join(work, 'backup'), to: target, say: 'KEPT ' }
    symlinkSync(join(outside, 'shadow'), join(work, 'backup'))
    expect(run([keep]).stderr).toContain('is not a plain file')
    rmSync(join(work, 'backup'))
    linkSync(join(outside, 'shadow'), join(work, 'backup'))
    expect(run([keep]).stderr).toContain('is not a plain file of one link')
    rmSync(join(work, 'backup'))
    writeFileSync(join(work, 'backup'), 'data')
    asApp(join(work, 'backup'))
    // As root opens it, the app swaps the name for a link to a root file, and a folder: root
    // keeps the file it checked, by its descriptor, never what the name is now.
    const swapped = run([keep], {
      at: 'open',
      name: 'backup',
      script: `cd ${work} && mv backup b.old && ln -s ${outside}/shadow backup && mkdir folder`
    })
    expect(swapped.code).toBe(0)
    expect(swapped.stdout).toBe(`\nKEPT 4 ${target}\n`)
    expect(readFileSync(target, 'utf8')).toBe('data')
    expect([owner(target), mode(target), lstatSync(target).isFile()]).toEqual([0, '600', true])
    expect(state()).toBe(before)
    // The app's name of it now leads to a file only root reads.
    const read = spawnSync('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      'cat',
      join(work, 'b.old')
    ])
    expect(read.status).not.toBe(0)
  })

  test("user: an account of its own passes; root, nginx's, another primary group, another group, a shared uid are refused", () => {
    // A user of the test's own, made and removed here (as the action makes one).
    const name = `ddatest${process.pid % 10000}`
    const user = (argv: string[]) => execFileSync(argv[0], argv.slice(1), { stdio: 'ignore' })
    user([
      'useradd',
      '--system',
      '--user-group',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      name
    ])
    try {
      const check = (account: string) => run([{ op: 'user', user: account }])
      expect(check(name)).toMatchObject({ code: 0, stderr: '' })
      expect(check('no-such-user-here')).toMatchObject({ code: 0, stderr: '' })
      const other = 'choose another app-user (the action creates it)'
      const says = (what: string, todo = other) =>
        `: the app user must be a user of its own, in no other group; ${todo}\n`.replace(/^/, what)
      expect(check('root').stderr).toBe(says('app-user root has uid 0, which is root'))
      expect(check('www-data').stderr).toBe(
        says(
          "app-user www-data is the user nginx runs as (group www-data), which reads every site's files"
        )
      )
      expect(check('nobody').stderr).toBe(
        says(
          'app-user nobody has the primary group nogroup, not a group of its own',
          `make it nobody (usermod -g nobody nobody), or ${other}`
        )
      )
      user(['usermod', '-aG', 'adm', name])
      expect(check(name).stderr).toBe(
        says(
          `app-user ${name} is in the group adm`,
          `remove it from the group (gpasswd -d ${name} adm), or ${other}`
        )
      )
      user(['gpasswd', '-d', name, 'adm'])
      // Another name for its uid.
      const uid = execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim()
      user([
        'useradd',
        '--system',
        '--no-create-home',
        '--non-unique',
        '--uid',
        uid,
        '-g',
        name,
        `${name}b`
      ])
      expect(check(name).stderr).toMatch(
        new RegExp(`^app-user ${name} shares its uid \\d+ with another account`)
      )
      expect(check(name).code).toBe(1)
    } finally {
      spawnSync('userdel', [`${name}b`])
      spawnSync('userdel', [name])
      spawnSync('groupdel', [name])
    }
  })

  test("copy: root's backup copied into the work folder; a link at any component is refused", () => {
    const backups = join(deploy, 'backups')
    mkdirSync(join(backups, '.restore-r1'), { recursive: true })
    writeFileSync(join(backups, 'r0.sqlite3'), 'db', { mode: 0o600 })
    const copy: BoundaryOp = {
      op: 'copy',
      from: join(backups, 'r0.sqlite3'),
      path: join(backups, '.restore-r1/backup')
    }
    const before = state()
    for (const at of linkedAtEachComponent(deploy, 'backups/.restore-r1', outside)) {
      const result = run([copy])
      expect([at, result.code]).toEqual([at, 1])
      expect(result.stderr).toContain('is a link or not a folder')
      expect(state()).toBe(before)
    }
    expect(run([copy]).code).toBe(0)
    expect(readFileSync(join(backups, '.restore-r1/backup'), 'utf8')).toBe('db')
    expect(mode(join(backups, '.restore-r1/backup'))).toBe('600')
  })

  test('share, files, symlink, remove: a link at any component is refused or removed as a link', () => {
    const release = join(deploy, 'releases/r1')
    tree(release, false)
    const before = state()
    for (const at of linkedAtEachComponent(deploy, 'releases/r1/pkg', outside)) {
      const ops: BoundaryOp[] = [
        {
          op: 'share',
          path: release,
          links: [['pkg/db.sqlite3', `${deploy}/shared/pkg/db.sqlite3`]]
        },
        { op: 'files', path: join(release, 'pkg/req'), files: [['requirements.txt', 'eA==']] },
        { op: 'symlink', path: join(release, 'pkg'), name: '.venv', target: '../../venvs/k' }
      ]
      for (const op of ops) {
        const result = run([op])
        expect([at, op.op, result.code]).toEqual([at, op.op, 1])
        expect(result.stderr).toContain('is a link or not a folder')
      }
      expect(state()).toBe(before)
    }
    // A path that climbs out, or names nothing, is refused before anything is done.
    const climbing: BoundaryOp[] = [
      { op: 'share', path: release, links: [['../../../etc/x', `${deploy}/shared/x`]] },
      { op: 'files', path: join(release, 'req'), files: [['..', 'eA==']] },
      { op: 'remove', path: release, names: ['..'] }
    ]
    for (const op of climbing) {
      const result = run([op])
      expect([op.op, result.code]).toEqual([op.op, 1])
      expect(result.stderr).toContain('is not a plain relative path')
    }
    expect(state()).toBe(before)
    symlinkSync(outside, join(release, '.venv'))
    expect(run([{ op: 'remove', path: release, names: ['.venv', 'absent'] }]).code).toBe(0)
    expect(readdirSync(release)).not.toContain('.venv')
    expect(state()).toBe(before)
  })

  test('remove, a whole tree: links at every level removed as links, a swap while root works followed nowhere, any depth', () => {
    const releases = join(deploy, 'releases')
    const release = join(releases, 'r1')
    tree(release, true)
    // What the app leaves: links to a folder and to a file outside at every level.
    symlinkSync(outside, join(release, 'linked-dir'))
    symlinkSync(join(outside, 'shadow'), join(release, 'pkg/shadow'))
    symlinkSync(outside, join(release, 'pkg/sub/etc'))
    for (const p of ['linked-dir', 'pkg/shadow', 'pkg/sub/etc'])
      execFileSync('chown', ['-h', `${APP_UID}:${APP_UID}`, join(release, p)])
    const before = state()
    // A link at any component of the folder given is refused, nothing removed.
    for (const at of linkedAtEachComponent(deploy, 'releases/r1', outside)) {
      const result = run([{ op: 'remove', path: join(deploy, at), names: '*' }])
      expect([at, result.code]).toEqual([at, 1])
      expect(result.stderr).toContain('is a link or not a folder')
      expect(state()).toBe(before)
    }
    // A dry run lists every path, a link as a name (never what it leads to), and removes nothing.
    const listed = run([{ op: 'remove', path: releases, names: '*', dryRun: true }])
    expect(listed.code).toBe(0)
    const paths = listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line.replace(/^would-remove /, '')) as string)
    expect(paths).toEqual(
      expect.arrayContaining(['r1/', 'r1/linked-dir', 'r1/pkg/sub/etc', 'r1/pkg/sub/deep.txt'])
    )
    expect(paths.some((p) => p.includes('shadow/') || p.startsWith('r1/linked-dir/'))).toBe(false)
    expect(readdirSync(release).sort()).toEqual(['linked-dir', 'pkg', 'run.sh'])
    // As root lists pkg/sub, the app swaps pkg/sub and pkg for links to outside.
    const result = run([{ op: 'remove', path: releases, names: ['r1'], say: true }], {
      at: 'listdir',
      name: 'pkg/sub',
      script: `cd ${release}/pkg && mv sub sub.old && ln -s ${outside} sub && cd .. && mv pkg pkg.old && ln -s ${outside} pkg`
    })
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^removed "r1" \d+$/m)
    expect(readdirSync(releases)).toEqual([])
    expect(state()).toBe(before)
    // Deeper than Python's recursion and the descriptors a process may hold: removed all the same.
    const deep = join(deploy, 'shared', ...Array<string>(1100).fill('d'))
    mkdirSync(deep, { recursive: true })
    symlinkSync(outside, join(deep, 'etc'))
    writeFileSync(join(deep, 'f'), 'x')
    const deepRun = run([{ op: 'remove', path: deploy, names: ['shared'], say: true }])
    expect(deepRun.stderr).toBe('')
    expect(deepRun.code).toBe(0)
    expect(deepRun.stdout).toMatch(/^removed "shared" 1103$/m)
    expect(readdirSync(deploy)).toEqual(['releases'])
    expect(state()).toBe(before)
  })
})
