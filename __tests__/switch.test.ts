// The switch step reads what the install step changed: systemd and nginx read their files again
// only when they changed. Run with a real sh and a stand-in systemctl that records its calls.
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { switchBody } from '../src/server/switch.js'
import { settingsFor } from './settings-fixture.js'

const RELEASE = '20261125T081500Z-1a2b3c4'

function systemctlCalls(changed: string | null, nginxActive = true): string[] {
  const deployPath = mkdtempSync(join(tmpdir(), 'dda-switch-'))
  mkdirSync(join(deployPath, '.deploy'))
  if (changed !== null) writeFileSync(join(deployPath, '.deploy', 'changed'), changed)
  const record = join(deployPath, 'calls')
  const command = switchBody(settingsFor({ deployPath }), RELEASE).text
  execFileSync('/bin/bash', [
    '-c',
    `systemctl() { echo "$*" >> ${record}; case "$*" in 'is-active --quiet nginx') return ${nginxActive ? 0 : 3};; esac; }\n` +
      `seq() { :; }\n${command}`
  ])
  const calls = readFileSync(record, 'utf8').trim().split('\n')
  rmSync(deployPath, { recursive: true, force: true })
  return calls
}

test('nothing changed: the service restarts, nothing else is read again', () => {
  expect(systemctlCalls('\n')).toEqual([
    'start gunicorn-mysite.socket',
    'restart gunicorn-mysite.service',
    'is-active --quiet nginx'
  ])
})

test('a changed service: systemd reads it again; nginx is not reloaded', () => {
  const calls = systemctlCalls('gunicorn-mysite.service\n')
  expect(calls.slice(0, 2)).toEqual([
    'daemon-reload',
    'enable --quiet gunicorn-mysite.socket gunicorn-mysite.service'
  ])
  expect(calls).not.toContain('reload nginx')
})

test('a changed socket is restarted; a changed site reloads nginx', () => {
  const calls = systemctlCalls('gunicorn-mysite.socket\nmysite\n')
  expect(calls).toContain('stop gunicorn-mysite.service gunicorn-mysite.socket')
  expect(calls).toContain('reload nginx')
})

test('no list (an older install step): everything, as before', () => {
  const calls = systemctlCalls(null)
  expect(calls).toContain('daemon-reload')
  expect(calls).toContain('reload nginx')
})

test('nginx not running: started', () => {
  expect(systemctlCalls('\n', false)).toContain('start nginx')
})
