// The key types known-hosts pins for a host: the connection asks the server for these first, so a
// host with ed25519, ecdsa and rsa keys offers the one that is pinned (as ssh does).

import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pinnedKeyTypes } from '../src/remote/hostkey.js'

const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMHOyxw74IeVPfvfhFuSsmF+Kn4MA4ELGRSOUOwI9H/y'
const RSA = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDDg9LlLbroQeCJ2yXgqEC6'
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFXT'

test('the types of the lines for this host and port, in order, once each', () => {
  const text = [`other.example ${ED}`, `app1 ${RSA}`, `app1,app2 ${ECDSA}`, `app1 ${RSA}`].join(
    '\n'
  )
  expect(pinnedKeyTypes(text, 'app1', 22)).toEqual(['ssh-rsa', 'ecdsa-sha2-nistp256'])
  expect(pinnedKeyTypes(text, 'app2', 22)).toEqual(['ecdsa-sha2-nistp256'])
  expect(pinnedKeyTypes(text, 'app3', 22)).toEqual([])
})

test('[host]:port only on that port', () => {
  const text = `[app1]:2222 ${ECDSA}\napp1 ${ED}`
  expect(pinnedKeyTypes(text, 'app1', 2222)).toEqual(['ecdsa-sha2-nistp256'])
  expect(pinnedKeyTypes(text, 'app1', 22)).toEqual(['ssh-ed25519'])
})

test('@revoked and @cert-authority lines pin no type', () => {
  const text = `@revoked app1 ${ED}\n@cert-authority app1 ${ECDSA}\napp1 ${RSA}`
  expect(pinnedKeyTypes(text, 'app1', 22)).toEqual(['ssh-rsa'])
})

test('a hashed line (ssh-keygen -H)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pinned-'))
  try {
    writeFileSync(join(dir, 'known_hosts'), `app1 ${RSA}\n`)
    execFileSync('ssh-keygen', ['-H', '-f', join(dir, 'known_hosts')], { stdio: 'ignore' })
    const text = readFileSync(join(dir, 'known_hosts'), 'utf8')
    expect(text).not.toContain('app1')
    expect(pinnedKeyTypes(text, 'app1', 22)).toEqual(['ssh-rsa'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
