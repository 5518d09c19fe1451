// The allow-lists of server paths (src/grammar/paths.ts): deploy-path, and the folders handed to
// the app user, whether an input names them or the project's own settings (STATIC_ROOT, MEDIA_ROOT).

import { appFolderProblem, deployPathProblem } from '../src/grammar/paths.js'
import { RESERVED } from '../src/server/layout.js'

const where = { deployPath: '/srv/mysite', appUser: 'mysite' }
const RELEASE = '/srv/mysite/releases/20261125T081500Z-1a2b3c4'

describe('appFolderProblem', () => {
  test.each([
    `${RELEASE}/staticfiles`,
    `${RELEASE}/staticfiles/`,
    '/srv/mysite/current/static',
    '/srv/mysite/shared/media',
    '/srv/mysite/shared/media/uploads',
    '/srv/mysite/static',
    '/srv/assets/mysite',
    '/opt/mysite/media',
    '/var/www/mysite',
    '/var/www/html/static',
    '/var/lib/mysite/media'
  ])('%s is allowed', (path) => {
    expect(appFolderProblem(path, where)).toBeUndefined()
  })

  test.each([
    // the project's settings could name any of these; the deploy then hands it to the app user
    ['/etc/nginx', /not a folder the action may hand/],
    ['/etc/systemd/system', /not a folder the action may hand/],
    ['/root/.ssh', /not a folder the action may hand/],
    ['/home/deploy/.ssh', /not a folder the action may hand/],
    ['/usr/local/bin', /not a folder the action may hand/],
    ['/var/lib/postgresql/15/main', /not a folder the action may hand/],
    ['/var/lib/mysite', /not a folder the action may hand/],
    ['/var/www', /not a folder the action may hand/],
    ['/srv', /holds deploy-path/],
    ['/srv/mysite', /holds deploy-path/],
    ['/srv/mysite/', /holds deploy-path/],
    ['/srv/mysite/releases', /a folder the deploy keeps/],
    [RELEASE, /a folder the deploy keeps/],
    [`${RELEASE}/.venv`, /a folder the deploy keeps/],
    [`${RELEASE}/.venv/lib`, /a folder the deploy keeps/],
    ['/srv/mysite/venvs/0123456789abcdef', /a folder the deploy keeps/],
    ['/srv/mysite/current', /a folder the deploy keeps/],
    ['/srv/mysite/shared', /a folder the deploy keeps/],
    ['/srv/mysite/.deploy/previous', /a folder the deploy keeps/],
    ['/srv/mysite/.current.new', /a folder the deploy keeps/],
    ['staticfiles', /absolute path/],
    ['/srv/mysite/shared/../../../etc', /absolute path/],
    ['/srv/mysite/shared/./media', /absolute path/],
    ['/srv/my site/media', /absolute path/],
    ['/', /absolute path/],
    ['', /absolute path/]
  ])('%s is refused', (path, says) => {
    expect(appFolderProblem(path, where)).toMatch(says)
  })

  test('every entry the action keeps for itself, and what is below it, is refused (one list: RESERVED)', () => {
    // The same list the project's settings are held to (settingsFolderProblem).
    expect([...RESERVED]).toEqual(expect.arrayContaining(['backups', 'acme', 'venvs', 'instances']))
    for (const entry of RESERVED) {
      expect(appFolderProblem(`/srv/mysite/${entry}`, where)).toMatch(/a folder the deploy keeps/)
      // Below `current` is a folder of the live release, which an input may name.
      if (entry !== 'current')
        expect(appFolderProblem(`/srv/mysite/${entry}/x`, where)).toMatch(
          /a folder the deploy keeps/
        )
    }
    expect(appFolderProblem('/srv/mysite/backups/x', where)).toBe(
      '/srv/mysite/backups/x is a folder the deploy keeps (releases, shared, venvs, backups, current, instances, acme, maintenance, dot names): use one of its own, e.g. /srv/mysite/shared/media'
    )
    expect(appFolderProblem('/srv/mysite/acme', where)).toMatch(/a folder the deploy keeps/)
    expect(appFolderProblem('/srv/mysite/acme/.well-known', where)).toMatch(/deploy keeps/)
    expect(appFolderProblem('/srv/mysite/current/static', where)).toBeUndefined()
    expect(appFolderProblem('/srv/mysite/backupsx', where)).toBeUndefined()
  })

  test('the message lists what is allowed', () => {
    expect(appFolderProblem('/etc/nginx', where)).toBe(
      '/etc/nginx is not a folder the action may hand to the app user: use one below /srv/mysite, /srv, /opt, /var/www, /var/lib/mysite'
    )
  })

  test('a value that is not a plain path is not repeated (it may hold a line break)', () => {
    const problem = appFolderProblem('/srv/x\n::error::pwned', where)
    expect(problem).toBe('must be an absolute path of letters, digits and _ . - @ +, without ..')
  })

  test('below another deploy path, and /var/lib of another app user', () => {
    const home = { deployPath: '/home/deploy/mysite', appUser: 'web' }
    expect(appFolderProblem('/home/deploy/mysite/shared/media', home)).toBeUndefined()
    expect(appFolderProblem('/home/deploy/media', home)).toMatch(/not a folder/)
    expect(appFolderProblem('/var/lib/web/media', home)).toBeUndefined()
    expect(appFolderProblem('/var/lib/mysite/media', home)).toMatch(/not a folder/)
  })
})

describe('deployPathProblem', () => {
  test.each(['/srv/mysite', '/opt/a/b', '/var/www/mysite', '/var/lib/mysite', '/home/deploy/x'])(
    '%s is allowed',
    (path) => {
      expect(deployPathProblem(path, 'mysite')).toBeUndefined()
    }
  )

  test.each([
    '/',
    '/srv',
    '/etc/nginx',
    '/root/.ssh',
    '/home/deploy',
    '/homework/x',
    '/var/libx/y',
    '/srv/../etc',
    'srv/mysite'
  ])('%s is refused', (path) => {
    expect(deployPathProblem(path, 'mysite')).toBe(
      `${path} is not below /srv, /opt, /var/www, /var/lib or /home/<user>`
    )
  })

  test('not below a folder of the app user', () => {
    expect(deployPathProblem('/home/mysite/app', 'mysite')).toMatch(/folder of the app user mysite/)
    expect(deployPathProblem('/var/lib/mysite/app', 'mysite')).toMatch(/app user mysite/)
  })
})
