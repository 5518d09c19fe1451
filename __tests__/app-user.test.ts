// The app user on the host (server/app-user.ts): a user of its own, or the run stops before the
// action uses it. Run here by sh, with a stand-in for id(1) that answers as the host would.

import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { appUserCheck } from '../src/server/app-user.js'
import { sh } from '../src/shell.js'
import { settingsFor } from './settings-fixture.js'

let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'dda-app-user-'))
  // id(1) as the host would answer for the one user it is asked about (none: no such user).
  writeFileSync(
    join(dir, 'id'),
    [
      '#!/bin/sh',
      `[ -n "$FAKE_UID" ] || { echo "id: '$2': no such user" >&2; exit 1; }`,
      'case "$1" in',
      '  -u) echo "$FAKE_UID" ;;',
      '  -gn) echo "$FAKE_GROUP" ;;',
      '  -Gn) echo "$FAKE_GROUPS" ;;',
      '  *) exit 1 ;;',
      'esac',
      ''
    ].join('\n')
  )
  chmodSync(join(dir, 'id'), 0o755)
  // getent passwd: the accounts of the host (by default, the user alone with its uid).
  writeFileSync(
    join(dir, 'getent'),
    [
      '#!/bin/sh',
      'printf "%s\\n" "${FAKE_PASSWD:-user:x:$FAKE_UID:$FAKE_UID::/nonexistent:/usr/sbin/nologin}"',
      ''
    ].join('\n')
  )
  chmodSync(join(dir, 'getent'), 0o755)
})

afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** The check for `user`, run against what id says; its exit and stderr. */
function check(
  user: string,
  id: { uid?: string; group?: string; groups?: string; passwd?: string } = {}
) {
  const run = spawnSync(
    'sh',
    ['-c', `${appUserCheck(settingsFor({ appUser: user })).text}\necho passed`],
    {
      encoding: 'utf8',
      cwd: dir,
      env: {
        PATH: `${dir}:/usr/bin:/bin`,
        FAKE_UID: id.uid ?? '',
        FAKE_GROUP: id.group ?? '',
        FAKE_GROUPS: id.groups ?? '',
        FAKE_PASSWD: id.passwd ?? ''
      }
    }
  )
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

describe('appUserCheck', () => {
  test('quotes the user name, and checks uid 0, nginx, the primary group and every group', () => {
    const text = appUserCheck(settingsFor({ appUser: "o'neil shop" })).text
    expect(text).toContain(`id -u ${sh`${"o'neil shop"}`.text} >/dev/null`)
    expect(text).toContain(`user=${sh`${"o'neil shop"}`.text}`)
    expect(text).not.toMatch(/[^"]o'neil/)
    expect(text).toContain('[ "$(id -u "$user")" != 0 ]')
    expect(text).toContain('for name in www-data "$web"; do')
    expect(text).toContain('/etc/nginx/nginx.conf')
    expect(text).toContain('[ "$group" = "$user" ]')
    expect(text).toContain('for group in $(id -Gn "$user"')
    expect(text).toContain(') || exit 1; fi')
  })

  test("another name for an account's uid (www-data's 33) is refused", () => {
    const passwd =
      'www-data:x:33:33::/var/www:/usr/sbin/nologin\nshop:x:33:33::/nonexistent:/usr/sbin/nologin'
    const run = check('shop', { uid: '33', group: 'shop', groups: 'shop', passwd })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('app-user shop shares its uid 33 with another account')
  })

  test('a user that does not exist yet passes: the action creates it', () => {
    expect(check('shop')).toEqual({ status: 0, stdout: 'passed\n', stderr: '' })
  })

  test('a user of its own, in its own group alone, passes', () => {
    expect(check('shop', { uid: '998', group: 'shop', groups: 'shop' })).toEqual({
      status: 0,
      stdout: 'passed\n',
      stderr: ''
    })
  })

  test.each([
    [
      'uid 0',
      { uid: '0', group: 'shop', groups: 'shop' },
      'app-user shop has uid 0, which is root: the app user must be a user of its own, in no other group; choose another app-user (the action creates it)\n'
    ],
    [
      'a member of sudo',
      { uid: '998', group: 'shop', groups: 'shop sudo' },
      'app-user shop is in the group sudo: the app user must be a user of its own, in no other group; remove it from the group (gpasswd -d shop sudo), or choose another app-user (the action creates it)\n'
    ],
    [
      "a member of nginx's group",
      { uid: '998', group: 'shop', groups: 'shop www-data' },
      'app-user shop is in the group www-data: the app user must be a user of its own, in no other group; remove it from the group (gpasswd -d shop www-data), or choose another app-user (the action creates it)\n'
    ],
    [
      'a primary group of another name',
      { uid: '998', group: 'users', groups: 'users' },
      'app-user shop has the primary group users, not a group of its own: the app user must be a user of its own, in no other group; make it shop (usermod -g shop shop), or choose another app-user (the action creates it)\n'
    ]
  ])('%s: exit 1, one line naming the user, the group and what to do', (_name, id, stderr) => {
    expect(check('shop', id)).toEqual({ status: 1, stdout: '', stderr })
  })

  test('the user nginx runs as', () => {
    const result = check('www-data', { uid: '33', group: 'www-data', groups: 'www-data' })
    expect(result.status).toBe(1)
    expect(result.stderr).toBe(
      "app-user www-data is the user nginx runs as (group www-data), which reads every site's files: the app user must be a user of its own, in no other group; choose another app-user (the action creates it)\n"
    )
  })

  test('a name is data: nothing in it runs', () => {
    const name = 'x;touch${IFS}pwned;$(touch${IFS}pwned2)*'
    const result = check(name, { uid: '998', group: name, groups: `${name} adm` })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain(`app-user ${name} is in the group adm`)
    expect(existsSync(join(dir, 'pwned'))).toBe(false)
    expect(existsSync(join(dir, 'pwned2'))).toBe(false)
  })
})
