import { execFileSync, spawnSync } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { settingsFor } from './settings-fixture.js'
import {
  nginxPath,
  nginxQuote,
  renderSite,
  symlinksFrom,
  upstreamName
} from '../src/render/nginx.js'

const djangoPaths = {
  staticUrl: '/static/',
  staticRoot: '/srv/mysite/current/staticfiles',
  mediaUrl: '/media/',
  mediaRoot: '/srv/mysite/shared/media'
}

const tls = {
  tlsCertificate: '/etc/ssl/certs/example.com.pem',
  tlsCertificateKey: '/etc/ssl/private/example.com.key'
}

/** The top-level blocks of a site, each as its header line and its trimmed body lines. */
function blocks(text: string): Array<{ header: string; body: string[] }> {
  const found: Array<{ header: string; body: string[] }> = []
  let depth = 0
  let current: { header: string; body: string[] } | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (depth === 0 && line.endsWith('{')) {
      current = { header: line, body: [] }
      found.push(current)
    } else if (depth > 0 && current && !(depth === 1 && line === '}')) {
      if (line !== '') current.body.push(line)
    }
    depth += (line.match(/{/g) ?? []).length - (line.match(/}/g) ?? []).length
    expect(depth).toBeGreaterThanOrEqual(0)
  }
  expect(depth).toBe(0)
  return found
}

function servers(text: string): string[][] {
  return blocks(text)
    .filter((b) => b.header === 'server {')
    .map((b) => b.body)
}

/** The lines inside `location <path> {...}` of a server body. */
function location(server: string[], path: string): string[] {
  const start = server.indexOf(`location ${path} {`)
  expect(start).toBeGreaterThanOrEqual(0)
  const end = server.indexOf('}', start)
  return server.slice(start + 1, end)
}

describe('renderSite', () => {
  const site = renderSite(settingsFor(), djangoPaths)
  const [server] = servers(site)

  it('starts with the managed-file header', () => {
    expect(site.split('\n')[0]).toBe(
      '# Managed by django-deploy-action; changes are overwritten on the next deploy.'
    )
    expect(site.endsWith('}\n')).toBe(true)
  })

  it('proxies to the gunicorn socket through an upstream that does not mark it failed', () => {
    expect(blocks(site)[0]).toEqual({
      header: 'upstream gunicorn_mysite {',
      body: ['server unix:/run/gunicorn-mysite.sock fail_timeout=0;']
    })
    expect(upstreamName('mysite')).toBe('gunicorn_mysite')
  })

  it('has one server block on port 80, IPv4 and IPv6', () => {
    expect(servers(site)).toHaveLength(1)
    expect(server.filter((l) => l.startsWith('listen '))).toEqual(['listen 80;', 'listen [::]:80;'])
    expect(server).toContain('server_name example.com;')
    expect(server).toContain('client_max_body_size 10m;')
  })

  it('lists every server name', () => {
    const s = settingsFor({ serverNames: ['example.com', 'www.example.com'] })
    expect(servers(renderSite(s))[0]).toContain('server_name example.com www.example.com;')
  })

  it('listens on the given address and port only, without default_server', () => {
    const s = settingsFor({ listen: { address: '127.0.0.1', port: 8080 } })
    const listens = servers(renderSite(s))[0].filter((l) => l.startsWith('listen '))
    expect(listens).toEqual(['listen 127.0.0.1:8080;'])
  })

  it('brackets an IPv6 listen address', () => {
    const s = settingsFor({ listen: { address: '::1', port: 8080 } })
    expect(servers(renderSite(s))[0]).toContain('listen [::1]:8080;')
  })

  it('is the default server when the server name is the catch-all _', () => {
    const s = settingsFor({ serverNames: ['_'] })
    const [catchAll] = servers(renderSite(s))
    expect(catchAll.filter((l) => l.startsWith('listen '))).toEqual([
      'listen 80 default_server;',
      'listen [::]:80 default_server;'
    ])
    expect(catchAll).toContain('server_name _;')
    expect(server.join('\n')).not.toContain('default_server')
  })

  it('does not take default_server when _ is one name among others', () => {
    const s = settingsFor({ serverNames: ['_', 'example.com'] })
    expect(renderSite(s)).not.toContain('default_server')
  })

  it('serves favicon.ico quietly', () => {
    expect(server).toContain('location = /favicon.ico { access_log off; log_not_found off; }')
  })

  it('serves static files by alias with a trailing slash and an expiry', () => {
    expect(location(server, '/static/')).toEqual([
      'alias /srv/mysite/current/staticfiles/;',
      'disable_symlinks on from=/srv/mysite/current;',
      'expires 30d;'
    ])
  })

  it('serves media by alias, without an expiry', () => {
    expect(location(server, '/media/')).toEqual([
      'alias /srv/mysite/shared/media/;',
      'disable_symlinks on from=/srv/mysite;'
    ])
  })

  it('adds the slashes a location and alias need, but never doubles them', () => {
    const site2 = renderSite(settingsFor(), {
      staticUrl: 'static',
      staticRoot: '/srv/mysite/current/static/'
    })
    expect(location(servers(site2)[0], '/static/')).toContain('alias /srv/mysite/current/static/;')
  })

  it('leaves out static or media that is not fully known or lives elsewhere', () => {
    const none = servers(renderSite(settingsFor(), {}))[0]
    expect(none.filter((l) => l.startsWith('location '))).toEqual([
      'location = /.django-deploy-maintenance {',
      'location = /.django-deploy-maintenance.html {',
      'location = /favicon.ico { access_log off; log_not_found off; }',
      'location / {'
    ])
    const cdn = renderSite(settingsFor(), {
      staticUrl: 'https://cdn.example.com/static/',
      staticRoot: '/srv/mysite/current/static'
    })
    expect(cdn).not.toContain('alias')
  })

  it('falls back to the static and media inputs in the settings', () => {
    const s = settingsFor({ staticUrl: '/assets/', staticRoot: '/srv/mysite/assets' })
    expect(location(servers(renderSite(s))[0], '/assets/')).toContain('alias /srv/mysite/assets/;')
    const overridden = renderSite(s, { staticUrl: '/s/', staticRoot: '/srv/s' })
    expect(location(servers(overridden)[0], '/s/')).toContain('alias /srv/s/;')
  })

  it('proxies everything else to gunicorn with the forwarding headers Django needs', () => {
    expect(location(server, '/')).toEqual([
      'proxy_set_header Host $http_host;',
      'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      'proxy_set_header X-Forwarded-Proto $scheme;',
      'proxy_set_header X-Real-IP $remote_addr;',
      'proxy_redirect off;',
      'proxy_pass http://gunicorn_mysite;'
    ])
  })

  it('puts nginx-directives inside the server block, each line indented', () => {
    const directives =
      'add_header X-Frame-Options DENY;\nlocation /api/ {\n    proxy_read_timeout 300;\n}\n'
    const text = renderSite(settingsFor({ nginxDirectives: directives }))
    const [body] = servers(text)
    expect(body).toContain('add_header X-Frame-Options DENY;')
    expect(location(body, '/api/')).toEqual(['proxy_read_timeout 300;'])
    const rawLines = text.split('\n')
    expect(rawLines).toContain('    add_header X-Frame-Options DENY;')
    expect(rawLines).toContain('        proxy_read_timeout 300;')
    // Still inside the block: the server's closing brace is the file's last line.
    expect(rawLines.indexOf('    add_header X-Frame-Options DENY;')).toBeLessThan(
      rawLines.lastIndexOf('}')
    )
  })

  it('adds nothing for empty nginx-directives', () => {
    expect(renderSite(settingsFor({ nginxDirectives: '\n\n' }))).not.toContain('nginx-directives')
  })

  describe('with TLS', () => {
    const text = renderSite(settingsFor(tls), djangoPaths)
    const [redirect, main] = servers(text)

    it('serves the site on 443 with the certificate', () => {
      expect(servers(text)).toHaveLength(2)
      expect(main.filter((l) => l.startsWith('listen '))).toEqual([
        'listen 443 ssl;',
        'listen [::]:443 ssl;'
      ])
      expect(main).toContain('ssl_certificate /etc/ssl/certs/example.com.pem;')
      expect(main).toContain('ssl_certificate_key /etc/ssl/private/example.com.key;')
      expect(main).toContain('proxy_pass http://gunicorn_mysite;')
    })

    it('redirects plain HTTP on the listen port to HTTPS for the same names', () => {
      expect(redirect).toEqual([
        'listen 80;',
        'listen [::]:80;',
        'server_name example.com;',
        'return 301 https://$host$request_uri;'
      ])
    })

    it('keeps default_server on both blocks for the catch-all', () => {
      const [r, m] = servers(renderSite(settingsFor({ ...tls, serverNames: ['_'] })))
      expect(r.filter((l) => l.startsWith('listen '))).toEqual([
        'listen 80 default_server;',
        'listen [::]:80 default_server;'
      ])
      expect(m.filter((l) => l.startsWith('listen '))).toEqual([
        'listen 443 ssl default_server;',
        'listen [::]:443 ssl default_server;'
      ])
    })

    it('uses the listen address for both blocks', () => {
      const s = settingsFor({ ...tls, listen: { address: '192.0.2.10', port: 80 } })
      const [r, m] = servers(renderSite(s))
      expect(r.filter((l) => l.startsWith('listen '))).toEqual(['listen 192.0.2.10:80;'])
      expect(m.filter((l) => l.startsWith('listen '))).toEqual(['listen 192.0.2.10:443 ssl;'])
    })

    it('has no redirect block when the listen port is 443', () => {
      const only = servers(renderSite(settingsFor({ ...tls, listen: { port: 443 } })))
      expect(only).toHaveLength(1)
      expect(only[0]).toContain('listen 443 ssl;')
      expect(only[0].join('\n')).not.toContain('return 301')
    })

    it('needs both the certificate and the key', () => {
      const half = renderSite(settingsFor({ tlsCertificate: tls.tlsCertificate }))
      expect(half).not.toContain('ssl')
    })
  })

  describe('quoting', () => {
    it('quotes paths holding anything outside [A-Za-z0-9_./-]', () => {
      const text = renderSite(settingsFor({ ...tls, tlsCertificate: '/etc/ssl/my cert.pem' }), {
        staticUrl: '/static files/',
        staticRoot: '/srv/my "site"/static'
      })
      const [, main] = servers(text)
      expect(main).toContain('ssl_certificate "/etc/ssl/my cert.pem";')
      expect(location(main, '"/static files/"')).toContain('alias "/srv/my \\"site\\"/static/";')
    })

    it('refuses $ in paths that nginx would expand as a variable', () => {
      expect(() =>
        renderSite(settingsFor(), { staticUrl: '/static/', staticRoot: '/srv/$site/static' })
      ).toThrow(RangeError)
    })
  })
})

describe('links the app plants in static and media are not followed', () => {
  const s = settingsFor()

  it("checks every link below the part of the path that is root's", () => {
    // current is root's link to the release: nginx follows it, and nothing below it.
    expect(symlinksFrom(s, '/srv/mysite/current/staticfiles')).toBe(
      'disable_symlinks on from=/srv/mysite/current;'
    )
    expect(symlinksFrom(s, '/srv/mysite/current')).toBe(
      'disable_symlinks on from=/srv/mysite/current;'
    )
    // shared/ is the app's, in root's deploy path: the app cannot replace shared itself.
    expect(symlinksFrom(s, '/srv/mysite/shared/media')).toBe(
      'disable_symlinks on from=/srv/mysite;'
    )
    expect(symlinksFrom(s, '/srv/mysite/static')).toBe('disable_symlinks on from=/srv/mysite;')
    // Not /srv/mysite/currently: a path is checked by its parts.
    expect(symlinksFrom(s, '/srv/mysite/currently/x')).toBe('disable_symlinks on from=/srv/mysite;')
    // A folder an input names elsewhere: checked from / on (a folder above it may be the app's
    // too, writable-paths: the app could swap it for a link to another site's files).
    expect(symlinksFrom(s, '/var/www/mysite/static')).toBe('disable_symlinks on;')
    expect(symlinksFrom(s, '/var/www/mysite/static/')).toBe('disable_symlinks on;')
  })

  it('quotes the parameter as one word, and refuses $ (from= expands variables)', () => {
    const at = settingsFor({ deployPath: '/srv/a@b' })
    expect(symlinksFrom(at, '/srv/a@b/shared/media')).toBe('disable_symlinks on "from=/srv/a@b";')
    expect(() => symlinksFrom(settingsFor({ deployPath: '/srv/$x' }), '/srv/$x/static')).toThrow(
      RangeError
    )
  })

  it('serves a folder below the static root that lives in shared/ from there', () => {
    const text = renderSite(s, {
      ...djangoPaths,
      staticBelow: [{ below: 'CACHE', root: '/srv/mysite/shared/staticfiles/CACHE' }]
    })
    expect(location(servers(text)[0], '/static/CACHE/')).toEqual([
      'alias /srv/mysite/shared/staticfiles/CACHE/;',
      'disable_symlinks on from=/srv/mysite;',
      'expires 30d;'
    ])
  })

  // Where nginx is installed, it has the last word: it takes the site, serves the files through
  // `current` and from shared/, and refuses the links the app planted. In CI nothing skips.
  const nginxTest = (() => {
    try {
      execFileSync('nginx', ['-v'], { stdio: 'ignore' })
      return it
    } catch {
      return process.env.CI ? it : it.skip
    }
  })()

  nginxTest('nginx -t takes the site, no planted link, maintenance', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dda-nginx-'))
    // nginx's workers (nobody, when the test runs as root) pass through it.
    chmodSync(dir, 0o755)
    try {
      const deployPath = join(dir, 'srv', 'mysite')
      const release = join(deployPath, 'releases', 'r1')
      const cache = join(deployPath, 'shared', 'staticfiles', 'CACHE')
      const media = join(deployPath, 'shared', 'media')
      for (const folder of [join(release, 'staticfiles'), cache, media, join(dir, 'private')])
        mkdirSync(folder, { recursive: true })
      writeFileSync(join(dir, 'private', 'key'), 'SECRET')
      writeFileSync(join(release, 'staticfiles', 'site.css'), 'css')
      writeFileSync(join(cache, 'c.css'), 'cached')
      writeFileSync(join(media, 'upload.txt'), 'upload')
      // Root's links: `current`, and the cache kept in shared/ (as shared paths are linked).
      symlinkSync('releases/r1', join(deployPath, 'current'))
      symlinkSync(cache, join(release, 'staticfiles', 'CACHE'))
      // The app's: a file and a folder of root's, linked into what nginx serves.
      symlinkSync(join(dir, 'private', 'key'), join(release, 'staticfiles', 'key.css'))
      symlinkSync(join(dir, 'private', 'key'), join(media, 'key.txt'))
      symlinkSync(join(dir, 'private'), join(media, 'private'))
      const port = 20000 + Math.floor(Math.random() * 20000)
      const site = renderSite(settingsFor({ deployPath, listen: { port, address: '127.0.0.1' } }), {
        staticUrl: '/static/',
        staticRoot: join(deployPath, 'current', 'staticfiles'),
        staticBelow: [{ below: 'CACHE', root: cache }],
        mediaUrl: '/media/',
        mediaRoot: media
      })
      const conf = join(dir, 'nginx.conf')
      writeFileSync(join(dir, 'site.conf'), site)
      writeFileSync(
        conf,
        `error_log ${dir}/error.log;\npid ${dir}/nginx.pid;\nevents {}\nhttp { access_log off; include ${dir}/site.conf; }\n`
      )
      const args = ['-p', `${dir}/`, '-c', conf]
      const tested = spawnSync('nginx', ['-t', '-q', ...args], { encoding: 'utf8' })
      // Not allowed to test a configuration here at all (no root for its folders): no verdict.
      if (/Permission denied|could not open error log/.test(tested.stderr)) return
      expect(tested.stderr).toBe('')
      expect(tested.status).toBe(0)
      const started = spawnSync('nginx', args, { encoding: 'utf8' })
      // The port is taken, or nginx may not run here: nginx -t gave its verdict.
      if (started.status !== 0) return
      try {
        const get = (path: string) =>
          new Promise<[number, string]>((resolve, reject) => {
            request({ host: '127.0.0.1', port, path, headers: { Host: 'example.com' } }, (res) => {
              let body = ''
              res.on('data', (chunk: Buffer) => (body += chunk.toString()))
              res.on('end', () => resolve([res.statusCode ?? 0, body]))
            })
              .on('error', reject)
              .end()
          })
        const send = (method: string, path: string) =>
          new Promise<{ status: number; retry?: string; body: string }>((resolve, reject) => {
            const headers = { Host: 'example.com' }
            request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
              let body = ''
              res.on('data', (chunk: Buffer) => (body += chunk.toString()))
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  retry: res.headers['retry-after'],
                  body
                })
              )
            })
              .on('error', reject)
              .end(method === 'POST' ? 'a=b' : undefined)
          })
        expect(await get('/static/site.css')).toEqual([200, 'css'])
        expect(await get('/static/CACHE/c.css')).toEqual([200, 'cached'])
        expect(await get('/media/upload.txt')).toEqual([200, 'upload'])
        for (const path of ['/static/key.css', '/media/key.txt', '/media/private/key']) {
          const [status, body] = await get(path)
          expect({ path, status, body: body.includes('SECRET') }).toEqual({
            path,
            status: expect.any(Number),
            body: false
          })
          expect(status).toBeGreaterThanOrEqual(400)
        }

        // Maintenance: the flag answers every request (static, media, a POST) with 503, the
        // page and Retry-After, no reload; an allowed address is served; no flag, all served.
        const maintenance = join(deployPath, 'maintenance')
        mkdirSync(join(maintenance, 'allow'), { recursive: true })
        writeFileSync(join(maintenance, 'page.html'), '<h1>back soon</h1>')
        writeFileSync(join(maintenance, 'on'), '')
        for (const [method, path] of [
          ['GET', '/static/site.css'],
          ['GET', '/media/upload.txt'],
          ['POST', '/anything'],
          ['HEAD', '/']
        ]) {
          const answer = await send(method, path)
          expect({ method, path, status: answer.status, retry: answer.retry }).toEqual({
            method,
            path,
            status: 503,
            retry: '120'
          })
          if (method !== 'HEAD') expect(answer.body).toBe('<h1>back soon</h1>')
        }
        // nginx's own error pages are not the maintenance page's location.
        expect((await send('GET', '/.django-deploy-maintenance.html')).status).toBe(404)
        writeFileSync(join(maintenance, 'allow', '127.0.0.1'), '')
        expect(await get('/static/site.css')).toEqual([200, 'css'])
        rmSync(join(maintenance, 'allow', '127.0.0.1'))
        rmSync(join(maintenance, 'on'))
        expect(await get('/media/upload.txt')).toEqual([200, 'upload'])
      } finally {
        const pid = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'))
        process.kill(pid, 'SIGQUIT')
        // The workers go with the master; wait until it is gone before removing its folder.
        for (let i = 0; i < 100; i++) {
          try {
            process.kill(pid, 0)
            await new Promise((resolve) => setTimeout(resolve, 20))
          } catch {
            break
          }
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('nginxQuote', () => {
  it.each([
    ['/srv/mysite/static/', '/srv/mysite/static/'],
    ['example.com', 'example.com'],
    ['10m', '10m'],
    ['a b', '"a b"'],
    ['a;b', '"a;b"'],
    ['{x}', '"{x}"'],
    ['say "hi"', '"say \\"hi\\""'],
    ["it's", '"it\'s"'],
    ['back\\slash', '"back\\\\slash"'],
    ['*.example.com', '"*.example.com"'],
    ['', '""']
  ])('%j → %s', (value, quoted) => {
    expect(nginxQuote(value)).toBe(quoted)
  })

  it('rejects control characters', () => {
    expect(() => nginxQuote('a\nb')).toThrow(RangeError)
  })

  it('nginxPath refuses $ and otherwise quotes the same way', () => {
    expect(nginxPath('/srv/a b/')).toBe('"/srv/a b/"')
    expect(() => nginxPath('/srv/$x/')).toThrow(RangeError)
  })
})
