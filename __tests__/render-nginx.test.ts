import { settingsFor } from './settings-fixture.js'
import { nginxPath, nginxQuote, renderSite, upstreamName } from '../src/render/nginx.js'

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
      'expires 30d;'
    ])
  })

  it('serves media by alias, without an expiry', () => {
    expect(location(server, '/media/')).toEqual(['alias /srv/mysite/shared/media/;'])
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
