import { settingsFor } from './settings-fixture.js'
import { HARDENING, gracefulTimeout, renderService, renderSocket } from '../src/render/gunicorn.js'
import { instanceSocketPath, socketPath, unitNames } from '../src/server/layout.js'
import {
  systemdExecutable,
  systemdQuote,
  systemdValue,
  systemdWord
} from '../src/render/systemd-escape.js'

const live = { appRoot: '/srv/mysite/instances/%i', workers: 3 }

function lines(text: string): string[] {
  return text.split('\n')
}

/** The lines of one `[Section]` of a unit file. */
function section(text: string, name: string): string[] {
  const all = lines(text)
  const start = all.indexOf(`[${name}]`)
  expect(start).toBeGreaterThanOrEqual(0)
  const end = all.findIndex((l, i) => i > start && l.startsWith('['))
  return all.slice(start + 1, end === -1 ? undefined : end).filter((l) => l !== '')
}

function values(text: string, key: string): string[] {
  return lines(text)
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1))
}

function value(text: string, key: string): string {
  const found = values(text, key)
  expect(found).toHaveLength(1)
  return found[0]
}

describe('names', () => {
  it('derives the socket path and unit names from the project', () => {
    expect(socketPath('mysite')).toBe('/run/gunicorn-mysite.sock')
    expect(instanceSocketPath('mysite', 'green')).toBe('/run/gunicorn-mysite@green.sock')
    const names = unitNames('mysite')
    expect([names.socket, names.service]).toEqual([
      'gunicorn-mysite@.socket',
      'gunicorn-mysite@.service'
    ])
    expect(names.instance('blue')).toEqual({
      socket: 'gunicorn-mysite@blue.socket',
      service: 'gunicorn-mysite@blue.service'
    })
    expect(names.legacy).toEqual({
      socket: 'gunicorn-mysite.socket',
      service: 'gunicorn-mysite.service'
    })
  })
})

describe('renderSocket', () => {
  const unit = renderSocket(settingsFor())

  it('starts with the managed-file header', () => {
    expect(lines(unit)[0]).toBe(
      '# Managed by django-deploy-action; changes are overwritten on the next deploy.'
    )
  })

  it("listens on the instance's own socket, reachable by nginx only", () => {
    expect(section(unit, 'Socket')).toEqual([
      'ListenStream=/run/gunicorn-mysite@%i.sock',
      'SocketUser=www-data',
      'SocketGroup=www-data',
      'SocketMode=0600'
    ])
  })

  it('has a description and is wanted by sockets.target', () => {
    expect(value(unit, 'Description')).toContain('mysite')
    expect(section(unit, 'Install')).toEqual(['WantedBy=sockets.target'])
  })

  it('ends with a newline', () => {
    expect(unit.endsWith('\n')).toBe(true)
  })
})

describe('renderService', () => {
  const unit = renderService(settingsFor(), live)

  it('starts with the managed-file header', () => {
    expect(lines(unit)[0]).toBe(
      '# Managed by django-deploy-action; changes are overwritten on the next deploy.'
    )
  })

  it('runs gunicorn through the venv python with the workers and the wsgi module', () => {
    expect(value(unit, 'ExecStart')).toBe(
      '/srv/mysite/instances/%i/.venv/bin/python -m gunicorn --workers 3 mysite.wsgi:application'
    )
    expect(value(unit, 'WorkingDirectory')).toBe('/srv/mysite/instances/%i')
  })

  it('runs another server of the app when given its command', () => {
    const asgi = renderService(settingsFor(), {
      ...live,
      command: ['-m', 'gunicorn', '-k', 'uvicorn.workers.UvicornWorker', 'mysite.asgi:application']
    })
    expect(value(asgi, 'ExecStart')).toBe(
      '/srv/mysite/instances/%i/.venv/bin/python -m gunicorn -k uvicorn.workers.UvicornWorker mysite.asgi:application'
    )
  })

  it('passes gunicorn-args between the workers and the wsgi module', () => {
    const s = settingsFor({ gunicornArgs: ['--timeout', '60', '--access-logfile', '-'] })
    expect(value(renderService(s, live), 'ExecStart')).toBe(
      '/srv/mysite/instances/%i/.venv/bin/python -m gunicorn --workers 3 --timeout 60 --access-logfile - mysite.wsgi:application'
    )
  })

  it('runs from the app root it is given (the release folder, for the verify gate)', () => {
    const release = '/srv/mysite/releases/20261125T081500Z-1a2b3c4'
    const staged = renderService(settingsFor(), { appRoot: release, workers: 5 })
    expect(value(staged, 'WorkingDirectory')).toBe(release)
    expect(value(staged, 'ExecStart')).toBe(
      `${release}/.venv/bin/python -m gunicorn --workers 5 mysite.wsgi:application`
    )
  })

  it('runs as the app user, never root', () => {
    expect(value(unit, 'User')).toBe('mysite')
    expect(value(unit, 'Group')).toBe('mysite')
    const other = renderService(settingsFor({ appUser: 'web' }), live)
    expect(value(other, 'User')).toBe('web')
    expect(value(other, 'User')).not.toBe('root')
  })

  it('is socket-activated and notifies readiness', () => {
    const unitSection = section(unit, 'Unit')
    expect(unitSection).toContain('Requires=gunicorn-mysite@%i.socket')
    expect(values(unit, 'After')).toEqual(
      expect.arrayContaining(['gunicorn-mysite@%i.socket', 'network.target'])
    )
    expect(value(unit, 'Type')).toBe('notify')
    expect(value(unit, 'NotifyAccess')).toBe('main')
  })

  it('sets the Django environment and loads the shared .env when present', () => {
    expect(values(unit, 'Environment')).toEqual([
      'DJANGO_SETTINGS_MODULE=mysite.settings',
      'PYTHONUNBUFFERED=1'
    ])
    expect(value(unit, 'EnvironmentFile')).toBe('-/srv/mysite/.deploy/env')
  })

  it('reloads with HUP and stops gracefully', () => {
    expect(value(unit, 'ExecReload')).toBe('/bin/kill -s HUP $MAINPID')
    expect(value(unit, 'KillMode')).toBe('mixed')
    expect(value(unit, 'Restart')).toBe('on-failure')
    expect(value(unit, 'RestartSec')).toBe('1')
    expect(section(unit, 'Install')).toEqual(['WantedBy=multi-user.target'])
  })

  it('gives gunicorn its default graceful timeout plus 5 s to stop', () => {
    expect(Number(value(unit, 'TimeoutStopSec'))).toBeGreaterThanOrEqual(30 + 5)
  })

  it.each([
    [['--graceful-timeout', '90'], 90],
    [['--graceful-timeout=120'], 120],
    [['--graceful-timeout', '10', '--graceful-timeout=45'], 45]
  ])('honours %j in gunicorn-args', (gunicornArgs, graceful) => {
    const stop = Number(value(renderService(settingsFor({ gunicornArgs }), live), 'TimeoutStopSec'))
    expect(stop).toBeGreaterThanOrEqual(graceful + 5)
  })

  it('rejects a worker count that is not a positive integer', () => {
    expect(() => renderService(settingsFor(), { ...live, workers: 0 })).toThrow(RangeError)
    expect(() => renderService(settingsFor(), { ...live, workers: 2.5 })).toThrow(RangeError)
  })

  describe('hardening', () => {
    const service = section(unit, 'Service')

    it('renders every entry of the one hardening list into [Service]', () => {
      const rendered = HARDENING.map((d) => (typeof d === 'string' ? d : d(settingsFor())))
      for (const line of rendered) expect(service).toContain(line)
    })

    it('keeps the file system read-only except the shared folder', () => {
      expect(value(unit, 'ProtectSystem')).toBe('strict')
      expect(value(unit, 'ReadWritePaths')).toBe('/srv/mysite/shared')
      expect(value(unit, 'ProtectHome')).toBe('true')
    })

    it('makes /home read-only instead of hidden when the deploy path is under it', () => {
      const s = settingsFor({ deployPath: '/home/deploy/mysite' })
      const home = renderService(s, { appRoot: '/home/deploy/mysite/current', workers: 2 })
      expect(value(home, 'ProtectHome')).toBe('read-only')
      expect(value(home, 'ReadWritePaths')).toBe('/home/deploy/mysite/shared')
    })

    it('drops every capability and privilege', () => {
      expect(value(unit, 'NoNewPrivileges')).toBe('true')
      expect(value(unit, 'CapabilityBoundingSet')).toBe('')
      expect(value(unit, 'AmbientCapabilities')).toBe('')
      expect(values(unit, 'SystemCallFilter')).toEqual([
        '@system-service',
        '~@privileged @resources',
        'setuid setgid setgroups'
      ])
    })

    it('lets the app reach the network (no IPAddressDeny=)', () => {
      expect(values(unit, 'IPAddressDeny')).toEqual([])
      expect(value(unit, 'RestrictAddressFamilies')).toBe('AF_UNIX AF_INET AF_INET6')
    })
  })

  describe('escaping user-supplied values', () => {
    it('quotes hostile gunicorn arguments so each stays one literal argument', () => {
      const s = settingsFor({ gunicornArgs: ['--name', 'my app; rm -rf /', '--x=%h $HOME'] })
      expect(value(renderService(s, live), 'ExecStart')).toBe(
        '/srv/mysite/instances/%i/.venv/bin/python -m gunicorn --workers 3 --name "my app; rm -rf /" "--x=%%h $$HOME" mysite.wsgi:application'
      )
    })

    it('escapes specifiers in paths, users and the settings module', () => {
      const s = settingsFor({
        deployPath: '/srv/100%h',
        appUser: 'a%u',
        settingsModule: 'mysite.settings %n'
      })
      const u = renderService(s, { appRoot: '/srv/100%h/current', workers: 1 })
      expect(value(u, 'WorkingDirectory')).toBe('/srv/100%%h/current')
      expect(value(u, 'User')).toBe('a%%u')
      expect(value(u, 'EnvironmentFile')).toBe('-/srv/100%%h/.deploy/env')
      expect(value(u, 'ReadWritePaths')).toBe('/srv/100%%h/shared')
      expect(values(u, 'Environment')[0]).toBe('"DJANGO_SETTINGS_MODULE=mysite.settings %%n"')
      expect(value(u, 'ExecStart').startsWith('/srv/100%%h/current/.venv/bin/python ')).toBe(true)
    })

    it('quotes a deploy path with spaces where the setting splits on them', () => {
      const s = settingsFor({ deployPath: '/srv/my site' })
      const u = renderService(s, { appRoot: '/srv/my site/current', workers: 1 })
      expect(value(u, 'ReadWritePaths')).toBe('"/srv/my site/shared"')
      expect(value(u, 'WorkingDirectory')).toBe('/srv/my site/current')
      expect(value(u, 'ExecStart').startsWith('"/srv/my site/current/.venv/bin/python" -m ')).toBe(
        true
      )
    })

    it('refuses values that no systemd syntax can carry', () => {
      expect(() =>
        renderService(settingsFor({ gunicornArgs: ['a\nExecStartPre=/bin/sh'] }), live)
      ).toThrow(RangeError)
      expect(() =>
        renderService(settingsFor(), { appRoot: '/srv/$x/current', workers: 1 })
      ).toThrow(RangeError)
    })
  })
})

describe('gracefulTimeout', () => {
  it('defaults to gunicorn default of 30 s', () => {
    expect(gracefulTimeout([])).toBe(30)
    expect(gracefulTimeout(['--timeout', '90'])).toBe(30)
  })

  it('reads both spellings, the last one winning', () => {
    expect(gracefulTimeout(['--graceful-timeout', '90'])).toBe(90)
    expect(gracefulTimeout(['--graceful-timeout=7'])).toBe(7)
    expect(gracefulTimeout(['--graceful-timeout=7', '--graceful-timeout', '60'])).toBe(60)
  })

  it('ignores a value gunicorn would reject', () => {
    expect(gracefulTimeout(['--graceful-timeout', 'soon'])).toBe(30)
    expect(gracefulTimeout(['--graceful-timeout'])).toBe(30)
    expect(gracefulTimeout(['--graceful-timeout='])).toBe(30)
  })
})

describe('systemdQuote', () => {
  it.each([
    ['plain', 'plain'],
    ['mysite.wsgi:application', 'mysite.wsgi:application'],
    ['--bind=unix:/run/x.sock', '--bind=unix:/run/x.sock'],
    ['-', '-'],
    ['two words', '"two words"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ['%h', '%%h'],
    ['100%', '100%%'],
    ['$HOME', '"$$HOME"'],
    ['${HOME}', '"$${HOME}"'],
    ['back\\slash', '"back\\\\slash"'],
    ['trailing\\', '"trailing\\\\"'],
    [';', '";"'],
    ['a;b', '"a;b"'],
    ['', '""'],
    ['% $ " \\ ;', '"%% $$ \\" \\\\ ;"']
  ])('%j → %s', (arg, quoted) => {
    expect(systemdQuote(arg)).toBe(quoted)
  })

  it('rejects control characters', () => {
    expect(() => systemdQuote('a\nb')).toThrow(RangeError)
    expect(() => systemdQuote('a\tb')).toThrow(RangeError)
    expect(() => systemdQuote('a\u0000b')).toThrow(RangeError)
  })
})

describe('systemd value helpers', () => {
  it('systemdWord quotes like systemdQuote but leaves $ alone (no expansion there)', () => {
    expect(systemdWord('A=$HOME')).toBe('"A=$HOME"')
    expect(systemdWord('A=%h')).toBe('A=%%h')
    expect(systemdWord('/srv/a "b"')).toBe('"/srv/a \\"b\\""')
  })

  it('systemdValue only escapes specifiers, and refuses what a line cannot hold', () => {
    expect(systemdValue('/srv/my site/%h')).toBe('/srv/my site/%%h')
    expect(() => systemdValue('/srv/x ')).toThrow(RangeError)
    expect(() => systemdValue('/srv/x\\')).toThrow(RangeError)
    expect(() => systemdValue('x\ny')).toThrow(RangeError)
  })

  it('systemdExecutable wants an absolute path without $', () => {
    expect(systemdExecutable('/srv/a b/python')).toBe('"/srv/a b/python"')
    expect(() => systemdExecutable('python')).toThrow(RangeError)
    expect(() => systemdExecutable('-/bin/true')).toThrow(RangeError)
    expect(() => systemdExecutable('/srv/$x/python')).toThrow(RangeError)
  })
})
