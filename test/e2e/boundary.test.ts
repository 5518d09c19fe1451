// The root boundary, end to end (issue 27): a hostile build. Root works on trees the repository
// and the app user shape (the release, the venv, the static root, shared/, the backup's folder);
// here a build plants a link or renames a folder at a component of each path root touches, from
// each place the project's code runs: the repository itself, a package's setup.py, a build
// command, the Django process. After each attack nothing root owns outside the deploy path
// changed, nginx serves nothing from outside it, the site answers (the previous release when the
// deploy failed, and then the run says why), and the next plain deploy goes live. Where the swap
// must come between two of root's steps, the project's code does it there itself (in setup.py,
// a build command, a migration, at the Django process's exit): the order is forced, no race.
//
// Whether a hostile deploy itself goes live or fails is not asserted: root may refuse the link
// by its name, or take it back harmlessly.
import { randomBytes } from 'node:crypto'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type ActionRun, runAction } from './action.js'
import {
  annotations,
  appOwnedOutside,
  deployInputs,
  edit,
  get,
  health,
  newCommit,
  onHost,
  summaryCause,
  systemState,
  workspaceWith
} from './fixture.js'
import { bootHost, type TestHost } from './testhost.js'

let host: TestHost
const must = (cmd: string) => onHost(host, cmd)

/** Root's files the attacks aim at, made by the test: their content, owner and mode are known. */
const TOKEN = randomBytes(6).toString('hex')
const BAIT = '/root/boundary'
/** A root file (0600) a planted mark leads to: root once truncated it. */
const MARK = `${BAIT}/mark`
/** A root-only file (0600) that parses as Python: root once byte-compiled it for the app. */
const SECRET = `s3cr3t-${TOKEN}`
const SECRET_PY = `${BAIT}/secret.py`
/** A root folder a committed __pycache__ leads to: root once wrote .pyc files into it. */
const PYCACHE = `${BAIT}/pycache`
/** Nobody's, 0777 and 0666: a chown or chmod by root through a link to it shows. */
const OPEN = '/usr/local/share/boundary'
/** The pip index the kept venv's package comes from, served on the host itself. */
const INDEX = 'http://127.0.0.1:8765/'

const DEPLOY = '/srv/mysite'

/** The paths nginx must never answer with a file from outside the deploy path. */
const PROBES = [
  // STATIC_ROOT (or a parent of it) a link to /etc, or /etc's files linked in.
  '/static/shadow',
  '/static/passwd',
  '/static/ssh/ssh_host_ed25519_key',
  // A folder of STATIC_ROOT a link to nginx's logs.
  '/static/admin/access.log',
  // MEDIA_ROOT a link to /etc.
  '/media/passwd',
  '/media/shadow',
  '/media/ssh/ssh_host_ed25519_key'
]

/** What nginx answers from outside: a probe answered other than 403 or 404, or site.css as passwd. */
async function servedFromOutside(): Promise<string[]> {
  const served: string[] = []
  for (const path of PROBES) {
    const page = await get(host, path)
    if (page.status !== 403 && page.status !== 404)
      served.push(`${path}: ${page.status} ${page.text.slice(0, 40)}`)
  }
  // The fixture's own file, which a link to /etc/passwd replaces in one attack.
  const css = await get(host, '/static/notes/site.css')
  if (/^root:/m.test(css.text)) served.push(`/static/notes/site.css: ${css.status} /etc/passwd`)
  return served
}

/** The lines of `after` not in `before` (+) and of `before` not in `after` (-), path by path. */
function changes(before: string, after: string): string[] {
  const was = new Set(before.split('\n'))
  const now = new Set(after.split('\n'))
  const lines: string[] = [
    ...[...was].filter((line) => !now.has(line)).map((line) => `- ${line}`),
    ...[...now].filter((line) => !was.has(line)).map((line) => `+ ${line}`)
  ]
  const path = (line: string) => line.slice(2).replace(/^[0-9a-f]{64} {2}/, '')
  lines.sort((a, b) => path(a).localeCompare(path(b)))
  return lines.length > 30 ? [...lines.slice(0, 30), `... and ${lines.length - 30} more`] : lines
}

/** A deploy that moved STATIC_ROOT writes another nginx site: its content is the deploy's own. */
const siteAside = (state: string) =>
  state.replace(/^[0-9a-f]{64} {2}\/etc\/nginx\/sites-available\/mysite$/m, 'SITE')

/** The release nginx serves, or what went wrong asking. */
async function serving(): Promise<string> {
  try {
    return (await health(host)).release
  } catch (error) {
    return `no answer: ${(error as Error).message.slice(0, 200)}`
  }
}

/** Files of the deploy path the app user can read that hold the secret. */
async function secretReadable(): Promise<string> {
  return must(
    `runuser -u mysite -- grep -rlF --binary-files=text ${SECRET} ${DEPLOY} 2>/dev/null || true`
  )
}

/** What the project's code printed of its attacks (`boundary: what: result`). */
const attempts = (run: ActionRun) =>
  run.stdout.split('\n').filter((line) => /^boundary: /.test(line))

/** The cause a failed run gives, in its error annotation and in the summary's first line. */
function causeGiven(run: ActionRun): string {
  if (run.outputs.status === 'success') return 'went live'
  const annotation = annotations(run.stdout, 'error').find((a) => a.title.startsWith('Deploy to'))
  const first = annotation?.message.split('\n')[0] ?? ''
  const summary = summaryCause(run.summary)[0] ?? ''
  console.log(`${run.outputs.status}: ${first}`)
  return first && summary ? 'failed, cause given' : `failed, no cause ('${first}', '${summary}')`
}

/**
 * The hostile deploy, and what it left: nothing root owns outside the deploy path changed, the
 * app owns nothing there, the secret is in nothing the app reads, nginx serves nothing from
 * outside, the site answers (the new release, or the previous one when the deploy failed, with
 * a cause). All seen together, so one failure shows every other.
 */
async function hostileDeploy(
  version: string,
  workspace: string,
  before: string,
  overrides: Record<string, string> = {}
): Promise<ActionRun> {
  const live = await serving()
  const run = await runAction(deployInputs(host, overrides), { env: newCommit(), workspace })
  console.log(
    `${version}: ${run.outputs.status} in ${Math.round(run.ms)} ms\n${attempts(run).join('\n')}`
  )
  const seen = {
    changed: changes(siteAside(before), siteAside(await systemState(host, 'mysite'))),
    appOwnedOutside: await appOwnedOutside(host, 'mysite'),
    secretReadable: await secretReadable(),
    secretInLog: run.everything.includes(SECRET),
    served: await servedFromOutside(),
    serving: await serving(),
    outcome: causeGiven(run)
  }
  expect(seen).toEqual({
    changed: [],
    appOwnedOutside: '',
    secretReadable: '',
    secretInLog: false,
    served: [],
    serving: run.outputs.status === 'success' ? run.outputs.release : live,
    outcome: run.outputs.status === 'success' ? 'went live' : 'failed, cause given'
  })
  return run
}

let plain = 0

/** The unmodified fixture, a new commit: it goes live, and root's files are as they were. */
async function nextPlainDeployGoesLive(before: string): Promise<void> {
  const run = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: workspaceWith(`plain-${++plain}`).workspace
  })
  if (run.outputs.status !== 'success')
    throw new Error(`the next plain deploy did not go live (${run.outputs.status}):\n${run.stdout}`)
  expect(await serving()).toBe(run.outputs.release)
  expect(changes(before, await systemState(host, 'mysite'))).toEqual([])
  expect(await servedFromOutside()).toEqual([])
}

/** Writes a file on the host (root's, 0644 unless chmod'ed after). */
const put = (path: string, text: string) =>
  must(`echo ${Buffer.from(text).toString('base64')} | base64 -d > ${path}`)

/**
 * The owner and mode of everything root's files are compared by, and the baits' content: saved
 * once, put back after a test that failed, so that one attack that got through (on code that
 * lets it) does not fail the tests after it (sshd refuses host keys root made 0644).
 */
const REPAIR_PY = `
import json, os, stat, sys
FOLDERS = ['/etc', '/root', '/usr/local', '/opt', '/var/www', '/var/lib/dpkg', '/var/log/nginx']
BAITS = ['${BAIT}', '${OPEN}']
STORE = '/run/boundary-saved.json'
def walk():
    for top in FOLDERS:
        for folder, dirs, files in os.walk(top):
            for path in [folder] + [os.path.join(folder, n) for n in dirs + files]:
                yield path, os.lstat(path)
if sys.argv[1] == 'save':
    saved = {path: [st.st_mode, st.st_uid, st.st_gid] for path, st in walk()}
    content = {}
    for top in BAITS:
        for folder, dirs, files in os.walk(top):
            for name in files:
                content[os.path.join(folder, name)] = open(os.path.join(folder, name), 'rb').read().hex()
    json.dump({'saved': saved, 'content': content}, open(STORE, 'w'))
    sys.exit(0)
store = json.load(open(STORE))
repaired = []
for path, st in list(walk()):
    was = store['saved'].get(path)
    if was and stat.S_IFMT(was[0]) == stat.S_IFMT(st.st_mode) and was != [st.st_mode, st.st_uid, st.st_gid]:
        try:
            os.lchown(path, was[1], was[2])
            if not stat.S_ISLNK(was[0]):
                os.chmod(path, stat.S_IMODE(was[0]))
            repaired.append(path)
        except OSError:
            pass
for top in BAITS:
    for folder, dirs, files in os.walk(top, topdown=False):
        for name in files + dirs:
            path = os.path.join(folder, name)
            if path not in store['saved']:
                (os.rmdir if os.path.isdir(path) and not os.path.islink(path) else os.unlink)(path)
                repaired.append(path)
for path, data in store['content'].items():
    if open(path, 'rb').read().hex() != data:
        with open(path, 'r+b') as f:
            f.truncate(0)
            f.write(bytes.fromhex(data))
        repaired.append(path)
print('%d paths put back: %s' % (len(repaired), ' '.join(repaired[:10])))
`

/**
 * A dependency's setup.py: it runs in the venv's build as the app user (sys.prefix is the venv)
 * and plants links where root works next. Each attempt's result is kept in the venv.
 */
const SETUP_PY = `
import errno, json, os, sys
venv = sys.prefix
record = os.path.join(venv, 'boundary-attempts.json')
try:
    done = json.load(open(record))
except (OSError, ValueError):
    done = {}
def attempt(what, action):
    if what in done:
        return
    try:
        action()
        done[what] = 'done'
    except OSError as error:
        done[what] = errno.errorcode.get(error.errno, str(error.errno))
def swap(path, target):
    os.rename(path, path + '.moved')
    os.symlink(target, path)
# The completion mark root writes once the build has ended. (Not .built: the build writes it
# itself after setup.py, and a link there would end the build before root's step.)
attempt('.complete', lambda: os.symlink('${MARK}', os.path.join(venv, '.complete')))
# A hard link to a root file, for root's chown and chmod of the venv: refused by the kernel.
attempt('hard link', lambda: os.link('/etc/shadow', os.path.join(venv, 'shadow')))
# The requirements folder root removes after building a kept venv.
if os.path.isdir(os.path.join(venv, '.requirements')):
    attempt('.requirements', lambda: swap(os.path.join(venv, '.requirements'), '${OPEN}'))
# bin/, in the last run of an editable install's setup.py (pip needs the venv's python before).
if 'develop' in sys.argv:
    attempt('bin', lambda: swap(os.path.join(venv, 'bin'), '${OPEN}'))
# The release's own venv: the build may write the release, which root byte-compiles next.
if os.path.basename(venv) == '.venv':
    release = os.path.dirname(venv)
    attempt('leak.py', lambda: os.symlink('${SECRET_PY}', os.path.join(release, 'leak.py')))
    attempt('__pycache__', lambda: os.symlink('${PYCACHE}', os.path.join(release, 'notes', '__pycache__')))
json.dump(done, open(record, 'w'))
from setuptools import setup
setup(name='boundary-evil', version='1.0', py_modules=[])
`

/** A build command (manage.py boundary <attack>): as the app user, the release writable. */
const COMMAND_PY = `
import errno, os
from django.conf import settings
from django.core.management.base import BaseCommand

def attempt(what, action):
    try:
        action()
        print('boundary: %s: done' % what)
    except OSError as error:
        print('boundary: %s: %s' % (what, errno.errorcode.get(error.errno, error.errno)))

def swap(path, target):
    os.rename(path, path + '.moved')
    os.symlink(target, path)

class Command(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument('attack')

    def handle(self, attack, **options):
        static, base = str(settings.STATIC_ROOT), str(settings.BASE_DIR)
        if attack == 'static-parent':
            attempt("STATIC_ROOT's parent -> /", lambda: swap(os.path.dirname(static), '/'))
        elif attack == 'inside':
            attempt('STATIC_ROOT/admin -> /var/log/nginx', lambda: swap(os.path.join(static, 'admin'), '/var/log/nginx'))
            attempt('STATIC_ROOT/notes/site.css -> /etc/passwd', lambda: swap(os.path.join(static, 'notes', 'site.css'), '/etc/passwd'))
            attempt('STATIC_ROOT/shadow, a hard link to /etc/shadow', lambda: os.link('/etc/shadow', os.path.join(static, 'shadow')))
            attempt('notes/static -> /etc', lambda: swap(os.path.join(base, 'notes', 'static'), '/etc'))
            attempt('manage.py -> /etc/shadow', lambda: swap(os.path.join(base, 'manage.py'), '/etc/shadow'))
`

/** The mysite fixture with the boundary build command in its app. */
function withCommand(version: string): { workspace: string; project: string } {
  const copy = workspaceWith(version)
  mkdirSync(join(copy.project, 'notes/management/commands'), { recursive: true })
  writeFileSync(join(copy.project, 'notes/management/__init__.py'), '')
  writeFileSync(join(copy.project, 'notes/management/commands/__init__.py'), '')
  writeFileSync(join(copy.project, 'notes/management/commands/boundary.py'), COMMAND_PY)
  return copy
}

/** Root's state with the live release plain, before each attack. */
let before = ''
/** The test ended with its plain deploy live: nothing to put back. */
let clean = false

beforeAll(async () => {
  host = await bootHost('boundary')
  await must(
    [
      `install -d -m 700 ${BAIT} ${PYCACHE}`,
      `umask 077 && printf 'boundary mark ${TOKEN}\\n' > ${MARK}`,
      `umask 077 && printf 'SECRET = "${SECRET}"\\n' > ${SECRET_PY}`,
      `install -d -m 777 -o nobody -g nogroup ${OPEN}`,
      `printf 'bait\\n' > ${OPEN}/bait && chown nobody:nogroup ${OPEN}/bait && chmod 666 ${OPEN}/bait`,
      'mkdir -p /run/boundary-index/www /run/boundary-index/src/boundary-evil-1.0'
    ].join(' && ')
  )
  // The kept venv's package: a source distribution, whose setup.py pip runs in the build.
  await put('/run/boundary-index/src/boundary-evil-1.0/setup.py', SETUP_PY)
  await put(
    '/run/boundary-index/src/boundary-evil-1.0/PKG-INFO',
    'Metadata-Version: 1.0\nName: boundary-evil\nVersion: 1.0\n'
  )
  await put('/run/boundary-repair.py', REPAIR_PY)
  await must(
    'tar -czf /run/boundary-index/www/boundary-evil-1.0.tar.gz -C /run/boundary-index/src boundary-evil-1.0 && ' +
      'chmod -R a+rX /run/boundary-index && ' +
      'systemd-run --quiet --unit=boundary-index -p DynamicUser=yes python3 -m http.server 8765 --bind 127.0.0.1 --directory /run/boundary-index/www && ' +
      `for i in $(seq 1 50); do curl -sf ${INDEX} >/dev/null && break; sleep 0.1; done; curl -sf ${INDEX} >/dev/null`
  )
  const first = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: workspaceWith('v1').workspace
  })
  if (first.outputs.status !== 'success') throw new Error(`first deploy failed:\n${first.stdout}`)
  await must('python3 /run/boundary-repair.py save')
  before = await systemState(host, 'mysite')
})
afterAll(async () => {
  await host?.stop()
})

beforeEach(() => {
  clean = false
})

// After a test that failed (on code that let an attack through): the links to outside it left in
// the deploy path removed (a venv's interpreter is one too), since the next deploy would follow
// them again (the previous release's static root is the next one's start); the secret's byte
// code deleted, the media folder and root's files put back, and a plain release live, so that
// the next test starts where the others do.
afterEach(async () => {
  if (clean) return
  await must(
    `find ${DEPLOY} -type l -lname '/*' ! -lname '${DEPLOY}/*' ! -path '*/bin/python*' -delete; ` +
      `grep -rlF ${SECRET} ${DEPLOY} | xargs -r rm -f; ` +
      `cd ${DEPLOY}/shared && for m in media.moved*; do [ -d "$m" ] || continue; ` +
      'if [ -e media ]; then rm -rf "$m"; else mv "$m" media; fi; done'
  )
  console.log(await must('python3 /run/boundary-repair.py restore'))
  const run = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: workspaceWith(`repair-${++plain}`).workspace
  })
  console.log(`after the failed test, a plain deploy: ${run.outputs.status}`)
  console.log(await must('python3 /run/boundary-repair.py restore'))
  before = await systemState(host, 'mysite')
})

test("case 1: a build command swaps STATIC_ROOT's parent for a link to / once collectstatic is done: root's taking back of the static root reaches nothing outside", async () => {
  // STATIC_ROOT is BASE_DIR/public/etc: with public a link to /, the path root names is /etc.
  // Root once ran chown -R and chmod -R go+rX on it: /etc/shadow and the host keys 0644, served
  // by nginx under /static/, and sshd refusing every login after.
  const { workspace, project } = withCommand('static-parent')
  edit(
    project,
    'mysite/settings.py',
    (text) => `${text}\nSTATIC_ROOT = BASE_DIR / 'public' / 'etc'\n`
  )
  await hostileDeploy('static-parent', workspace, before, {
    'build-commands': 'boundary static-parent'
  })
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 2: the previous release commits assets -> /, the new one has STATIC_ROOT BASE_DIR/assets/etc: nothing outside is linked in as the previous collected files', async () => {
  // With Django's StaticFilesStorage the new static root starts as the previous release's
  // collected files, hard-linked from the same path in it: root once followed the committed link
  // there (cp -al of /etc), then chown'ed and chmod'ed the links, that is the originals.
  const previous = workspaceWith('assets-link')
  symlinkSync('/', join(previous.project, 'assets'))
  const setup = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: previous.workspace
  })
  // A link in the repository is no reason to refuse it; the attack needs it live.
  if (setup.outputs.status !== 'success')
    throw new Error(`the release with assets -> / did not go live:\n${setup.stdout}`)
  expect(changes(before, await systemState(host, 'mysite'))).toEqual([])
  const { workspace, project } = workspaceWith('assets-etc')
  edit(
    project,
    'mysite/settings.py',
    (text) => `${text}\nSTATIC_ROOT = BASE_DIR / 'assets' / 'etc'\n`
  )
  await hostileDeploy('assets-etc', workspace, before)
  await nextPlainDeployGoesLive(before)
  clean = true
})

/** What setup.py recorded of its attempts, in the venv the release links to. */
async function setupAttempts(run: ActionRun): Promise<Record<string, string>> {
  const venv = `$(readlink -f ${DEPLOY}/releases/${run.outputs.release}/.venv)`
  const read = await host.exec(`cat "${venv}/boundary-attempts.json"`)
  // Without it this test proves nothing: setup.py did not run, or its venv is gone.
  if (read.code !== 0)
    throw new Error(`no record of setup.py's attempts in ${venv}: ${read.stderr}`)
  const recorded = JSON.parse(read.stdout) as Record<string, string>
  console.log(`setup.py: ${JSON.stringify(recorded)}`)
  return recorded
}

test("case 3, the release's venv: setup.py of a local package plants the completion mark as a link to a root file, swaps bin/ for a link, tries a hard link to /etc/shadow, and links leak.py and a __pycache__ into the release: root writes and compiles through none", async () => {
  // A local package (-e ./evil): the venv is the release's own, .venv, built in the release,
  // which the build may write. Root once marked the venv complete with a shell redirect, and
  // byte-compiled the release after the build.
  const { workspace, project } = workspaceWith('venv-local')
  mkdirSync(join(project, 'evil'))
  writeFileSync(join(project, 'evil', 'setup.py'), SETUP_PY)
  writeFileSync(join(project, 'requirements.txt'), '-e ./evil\n')
  const run = await hostileDeploy('venv-local', workspace, before)
  // setup.py ran and planted the mark; the kernel refused the hard link (across the sandbox's
  // mounts, or by protected_hardlinks): root must not need that, the state above says so.
  const recorded = await setupAttempts(run)
  expect(recorded['.complete']).toBe('done')
  expect(['EXDEV', 'EPERM']).toContain(recorded['hard link'])
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 3, a kept venv: setup.py of a package from a pip index plants the completion mark as a link to a root file and swaps the requirements folder for a link: root writes through neither', async () => {
  // A package from an index: the venv is kept by its key in venvs/, built beside the upload from
  // the requirements sent ahead, in a folder of the venv root removes after.
  const { workspace, project } = workspaceWith('venv-kept')
  writeFileSync(
    join(project, 'requirements.txt'),
    `--no-index\n--find-links ${INDEX}\nboundary-evil==1.0\n`
  )
  const run = await hostileDeploy('venv-kept', workspace, before)
  const recorded = await setupAttempts(run)
  expect(recorded['.complete']).toBe('done')
  expect(['EXDEV', 'EPERM']).toContain(recorded['hard link'])
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 4: the repository commits leak.py linked to a root-only Python file and a __pycache__ linked to a root folder (and STATIC_ROOT, .venv and the failed mark as links): byte-compiling leaks nothing and writes nothing outside', async () => {
  // Root once byte-compiled the release with compileall: the .pyc of the secret, readable by the
  // app once sealed, and .pyc files written into the folder __pycache__ leads to.
  const { workspace, project } = workspaceWith('committed-links')
  symlinkSync(SECRET_PY, join(project, 'leak.py'))
  mkdirSync(join(project, 'hostile'))
  writeFileSync(join(project, 'hostile', '__init__.py'), '')
  writeFileSync(join(project, 'hostile', 'mod.py'), 'VALUE = 1\n')
  symlinkSync(PYCACHE, join(project, 'hostile', '__pycache__'))
  // Names root makes or takes in the release: the static root, the venv, the failed mark.
  symlinkSync('/etc', join(project, 'staticfiles'))
  symlinkSync(OPEN, join(project, '.venv'))
  symlinkSync(MARK, join(project, '.deploy-failed'))
  // __pycache__ and .venv are left out of the upload by default: this workflow takes them back.
  await hostileDeploy('committed-links', workspace, before, { exclude: '!__pycache__,!.venv' })
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 5, STATIC_ROOT itself: the Django process swaps it for a link to /etc as it exits (a build command makes the release writable): root takes back nothing outside', async () => {
  // At exit, after collectstatic and the build command, before root takes the static root back
  // (chmod -R once followed a link named on its command line). gunicorn imports the settings
  // too: not there.
  const { workspace, project } = workspaceWith('static-root')
  edit(
    project,
    'mysite/settings.py',
    (text) => `${text}
import atexit as _atexit, errno as _errno, sys as _sys
def _swap_static_root():
    root = str(STATIC_ROOT)
    if 'gunicorn' in _sys.modules or os.path.islink(root) or not os.path.isdir(os.path.join(root, 'admin')):
        return
    try:
        os.rename(root, root + '.moved')
        os.symlink('/etc', root)
        print('boundary: STATIC_ROOT -> /etc: done')
    except OSError as error:
        print('boundary: STATIC_ROOT -> /etc: %s' % _errno.errorcode.get(error.errno, error.errno))
_atexit.register(_swap_static_root)
`
  )
  await hostileDeploy('static-root', workspace, before, { 'build-commands': 'check' })
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 5, inside STATIC_ROOT and the release: a build command swaps a folder and a file inside STATIC_ROOT, a package folder of the release and manage.py for links, and tries a hard link to /etc/shadow: root follows none, nginx serves none', async () => {
  // After it, root takes the release back (chown, chmod of every file) and the static root
  // (chown, chmod go+rX); nginx serves the static root.
  const { workspace } = withCommand('inside')
  const run = await hostileDeploy('inside', workspace, before, {
    'build-commands': 'boundary inside'
  })
  // The kernel refused the hard link: root must not need that, the state above says so.
  expect(attempts(run)).not.toContain(
    'boundary: STATIC_ROOT/shadow, a hard link to /etc/shadow: done'
  )
  await nextPlainDeployGoesLive(before)
  clean = true
})

test('case 5, shared/media and the backup: the Django process swaps shared/media for a link to /etc, and a migration swaps the backup it writes for a link to a root file: nginx serves no /media/passwd, root follows neither', async () => {
  // The settings do the media swap as they are imported (every process of the release); the
  // migration, the only one pending, runs after the backup was written into its work folder,
  // which the Django process is given on its command line.
  const { workspace, project } = workspaceWith('media-backup')
  edit(
    project,
    'mysite/settings.py',
    (text) => `${text}
import errno as _errno
def _swap_media():
    media = str(MEDIA_ROOT)
    if os.path.islink(media) or not os.path.isdir(media):
        return
    try:
        os.rename(media, '%s.moved-%d' % (media, os.getpid()))
        os.symlink('/etc', media)
        print('boundary: MEDIA_ROOT -> /etc: done')
    except OSError as error:
        print('boundary: MEDIA_ROOT -> /etc: %s' % _errno.errorcode.get(error.errno, error.errno))
_swap_media()
`
  )
  writeFileSync(
    join(project, 'notes/migrations/0002_boundary.py'),
    `import errno, os, sys
from django.db import migrations

def attempt(what, action):
    try:
        action()
        print('boundary: %s: done' % what)
    except OSError as error:
        print('boundary: %s: %s' % (what, errno.errorcode.get(error.errno, error.errno)))

def plant(apps, schema_editor):
    folders = sorted({a for a in sys.argv + list(os.environ.values()) if '/backups/.' in a})
    if not folders:
        print('boundary: the backup: no work folder found')
    for folder in folders:
        backup = os.path.join(folder, 'backup')
        attempt('the backup, a hard link to /etc/shadow', lambda: os.link('/etc/shadow', backup + '.hard'))
        def link():
            os.symlink('${MARK}', backup + '.link')
            os.replace(backup + '.link', backup)
        attempt('the backup -> ${MARK}', link)

class Migration(migrations.Migration):
    dependencies = [('notes', '0001_initial')]
    operations = [migrations.RunPython(plant, migrations.RunPython.noop)]
`
  )
  const run = await hostileDeploy('media-backup', workspace, before)
  // The attack ran: the migration found the folder root takes the backup from.
  expect(attempts(run)).not.toContain('boundary: the backup: no work folder found')
  // The next plain deploy: root must not hand the link over (chown through it). It goes live, or
  // refuses the link by its name (as privilege.test.ts expects); then, with the folder put back
  // as a person would, it goes live.
  const next = await runAction(deployInputs(host), {
    env: newCommit(),
    workspace: workspaceWith(`plain-${++plain}`).workspace
  })
  console.log(`the next plain deploy: ${next.outputs.status}`)
  expect(changes(before, await systemState(host, 'mysite'))).toEqual([])
  expect(await appOwnedOutside(host, 'mysite')).toBe('')
  expect(await servedFromOutside()).toEqual([])
  if (next.outputs.status === 'success') {
    expect(await serving()).toBe(next.outputs.release)
  } else {
    expect(next.stdout).toMatch(/\/srv\/mysite\/shared\/media\b[^\n]*\blink\b/)
    await must(
      `cd ${DEPLOY}/shared && rm media && for m in media.moved-*; do mv "$m" media; break; done`
    )
    await nextPlainDeployGoesLive(before)
  }
  clean = true
})
