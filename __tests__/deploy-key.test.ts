// The deploy key (deploy-key.ts): what makes two deploys the same, and what does not.

import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deployKey } from '../src/deploy-key.js'
import { sourceDigest } from '../src/remote/archive.js'
import { settingsFor } from './settings-fixture.js'

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'dda-key-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

describe('sourceDigest: the files the upload sends', () => {
  const files = { 'manage.py': 'x', 'app/views.py': 'def v(): pass\n', 'static/a.css': 'a{}' }

  test('the same files give the same digest, wherever the workspace is', () => {
    expect(sourceDigest(tree(files), [])).toBe(sourceDigest(tree(files), []))
  })

  test('a changed byte, a new file, a renamed file, an executable bit or a link target change it', () => {
    const base = sourceDigest(tree(files), [])
    expect(sourceDigest(tree({ ...files, 'static/a.css': 'a{ }' }), [])).not.toBe(base)
    expect(sourceDigest(tree({ ...files, 'static/b.css': '' }), [])).not.toBe(base)
    const { 'static/a.css': css, ...rest } = files
    expect(sourceDigest(tree({ ...rest, 'static/c.css': css }), [])).not.toBe(base)
    const executable = tree(files)
    chmodSync(join(executable, 'manage.py'), 0o755)
    expect(sourceDigest(executable, [])).not.toBe(base)
    const linked = [tree(files), tree(files)]
    symlinkSync('app', join(linked[0], 'link'))
    symlinkSync('static', join(linked[1], 'link'))
    expect(sourceDigest(linked[0], [])).not.toBe(sourceDigest(linked[1], []))
  })

  test('what the upload leaves out does not count: exclude, .git', () => {
    const base = sourceDigest(tree(files), ['*.log'])
    expect(sourceDigest(tree({ ...files, 'debug.log': 'x', '.git/HEAD': 'ref' }), ['*.log'])).toBe(
      base
    )
  })
})

describe('deployKey: what reaches the host', () => {
  const parts = { source: 's'.repeat(64), venv: 'v'.repeat(16), action: 'a'.repeat(64) }
  const key = deployKey(settingsFor(), parts)

  test('how the run connects and where the workspace is do not count', () => {
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(
      deployKey(
        settingsFor({
          hosts: [{ name: 'other.example', port: 2222 }],
          privateKey: 'another key',
          connectTimeoutMs: 1,
          source: '/elsewhere',
          githubToken: 'ghs_x'
        }),
        parts
      )
    ).toBe(key)
  })

  test('the settings, the .env, the venv, the files and the action do', () => {
    expect(deployKey(settingsFor({ workers: 7 }), parts)).not.toBe(key)
    expect(deployKey(settingsFor({ dotenv: [['DEBUG', '0']] }), parts)).not.toBe(key)
    expect(deployKey(settingsFor({ nginxDirectives: 'gzip on;' }), parts)).not.toBe(key)
    for (const part of ['source', 'venv', 'action'] as const)
      expect(deployKey(settingsFor(), { ...parts, [part]: 'x' })).not.toBe(key)
  })
})
