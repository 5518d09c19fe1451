// PEP 508 markers and wheel tags, as the lock readers evaluate them for a server: the answers are
// the ones pip's packaging gives for the same marker and environment.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { markerMatches, MarkerError, pythonSatisfies } from '../src/lockfile/markers.js'
import { fileNameOf, installableFiles, noFileProblem, wheelTags } from '../src/lockfile/tags.js'
import type { LockedFile, ServerPython } from '../src/lockfile/types.js'

const servers = JSON.parse(
  readFileSync(join(process.cwd(), 'test/fixtures/locks/servers.json'), 'utf8')
) as Record<string, ServerPython>
const x86 = servers['debian12-cp311-x86_64']
const arm = servers['debian13-cp313-aarch64']
const on = (server: ServerPython, wanted: string[] = []) => ({ markers: server.markers, wanted })

describe('markers', () => {
  it.each([
    ["sys_platform == 'win32'", false, false],
    ["sys_platform == 'linux'", true, true],
    ["sys_platform != 'win32' and platform_machine == 'x86_64'", true, false],
    ["platform_machine == 'aarch64' or platform_machine == 'arm64'", false, true],
    ["python_version < '3.12'", true, false],
    ["python_full_version >= '3.13.0'", false, true],
    ["python_full_version < '3.11.3'", true, false],
    ["'3.12' <= python_version", false, true],
    ["python_version == '3.*'", true, true],
    ["python_version ~= '3.11'", true, true],
    ["python_version in '3.10 3.11'", true, false],
    ["python_version not in '3.10 3.11'", false, true],
    [
      "platform_python_implementation == 'CPython' and (sys_platform == 'darwin' or python_version >= '3.13')",
      false,
      true
    ],
    [
      '(os_name == "nt" or sys_platform == "cygwin") and implementation_name == "cpython"',
      false,
      false
    ],
    // Debian 12's platform_release (6.1.0-37-amd64) is no PEP 440 version, so never inside a
    // specifier; Debian 13's (6.12.38+deb13-arm64) is one, with a local part
    ["platform_release >= '6'", false, true],
    ["platform_release == '6.1.0-37-amd64'", true, false],
    ["platform_system == 'Linux' and 'lin' in sys_platform", true, true]
  ])('%s: %s on cp311 x86_64, %s on cp313 aarch64', (marker, onX86, onArm) => {
    expect(markerMatches(marker, on(x86))).toBe(onX86)
    expect(markerMatches(marker, on(arm))).toBe(onArm)
  })

  it('an empty marker holds', () => {
    expect(markerMatches(undefined, on(x86))).toBe(true)
    expect(markerMatches('  ', on(x86))).toBe(true)
  })

  it('extra, extras and dependency_groups hold for the groups asked, names normalized', () => {
    expect(markerMatches("extra == 'postgres'", on(x86))).toBe(false)
    expect(markerMatches("extra == 'postgres'", on(x86, ['Postgres']))).toBe(true)
    expect(markerMatches("'dev' in dependency_groups", on(x86))).toBe(false)
    expect(markerMatches("'dev' in dependency_groups", on(x86, ['dev']))).toBe(true)
    expect(markerMatches("'dev' not in dependency_groups", on(x86, ['dev']))).toBe(false)
    expect(markerMatches("'s3_storage' in extras", on(x86, ['s3-storage']))).toBe(true)
    expect(
      markerMatches("sys_platform == 'win32' and 'dev' in dependency_groups", on(x86, ['dev']))
    ).toBe(false)
  })

  it.each([
    "sys_platform = 'linux'",
    "sys_platform == 'linux' and",
    "(python_version > '3.8'",
    "os == 'linux'",
    'sys_platform == linux',
    "'a' == 'b'",
    "sys_platform ~= 'linux'",
    "python_version > '3.8' or sys_platform === "
  ])('%s cannot be read: an error, never true', (marker) => {
    expect(() => markerMatches(marker, on(x86))).toThrow(MarkerError)
  })

  it('a part that cannot be evaluated fails even when the rest decides', () => {
    expect(() => markerMatches("sys_platform == 'linux' or sys_platform ~= 'x'", on(x86))).toThrow(
      MarkerError
    )
  })

  it('requires-python against the server', () => {
    expect(pythonSatisfies('>=3.11', x86.markers)).toBe(true)
    expect(pythonSatisfies('>=3.12', x86.markers)).toBe(false)
    expect(pythonSatisfies('>=3.12,<3.14', arm.markers)).toBe(true)
  })
})

describe('wheel tags', () => {
  it('expands compressed tag sets', () => {
    expect(wheelTags('tzdata-2025.2-py2.py3-none-any.whl')).toEqual([
      'py2-none-any',
      'py3-none-any'
    ])
    expect(
      wheelTags('psycopg_binary-3.2.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')
    ).toEqual(['cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64'])
    expect(wheelTags('foo-1.0-1build-cp313-abi3-linux_aarch64.whl')).toEqual([
      'cp313-abi3-linux_aarch64'
    ])
    expect(wheelTags('django-5.2.6.tar.gz')).toBeUndefined()
    expect(wheelTags('not-a-wheel.whl')).toBeUndefined()
  })

  it('names a file from its URL', () => {
    expect(fileNameOf('https://files.example/p/a/b/Django-5.2.6-py3-none-any.whl#sha256=00')).toBe(
      'Django-5.2.6-py3-none-any.whl'
    )
    expect(fileNameOf('https://files.example/simple/pkg%2B1-1.0.tar.gz')).toBe('pkg+1-1.0.tar.gz')
  })

  const file = (name: string): LockedFile => ({ name, sha256: '0'.repeat(64) })
  const psycopgBinary = [
    file('psycopg_binary-3.2.9-cp311-cp311-macosx_11_0_arm64.whl'),
    file('psycopg_binary-3.2.9-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl'),
    file('psycopg_binary-3.2.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'),
    file('psycopg_binary-3.2.9-cp311-cp311-musllinux_1_2_x86_64.whl'),
    file('psycopg_binary-3.2.9-cp311-cp311-win_amd64.whl'),
    file('psycopg_binary-3.2.9-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl'),
    file('psycopg_binary-3.2.9-cp313-cp313-manylinux_2_28_aarch64.whl'),
    file('psycopg_binary-3.2.9-cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64.whl')
  ]

  it('keeps the wheels the server takes, best first, then the sdist', () => {
    const names = (server: ServerPython, files: LockedFile[]) =>
      installableFiles(files, server).map((f) => f.name)
    expect(names(x86, psycopgBinary)).toEqual([
      'psycopg_binary-3.2.9-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl'
    ])
    expect(names(arm, psycopgBinary)).toEqual([
      'psycopg_binary-3.2.9-cp313-cp313-manylinux_2_28_aarch64.whl',
      'psycopg_binary-3.2.9-cp313-cp313-manylinux_2_17_aarch64.manylinux2014_aarch64.whl'
    ])
    const mixed = [
      file('foo-1.0.tar.gz'),
      file('foo-1.0-py3-none-any.whl'),
      file('foo-1.0-cp313-abi3-manylinux_2_34_aarch64.whl')
    ]
    expect(names(arm, mixed)).toEqual([
      'foo-1.0-cp313-abi3-manylinux_2_34_aarch64.whl',
      'foo-1.0-py3-none-any.whl',
      'foo-1.0.tar.gz'
    ])
    expect(names(x86, mixed)).toEqual(['foo-1.0-py3-none-any.whl', 'foo-1.0.tar.gz'])
  })

  it('a package with no file for the server says which Python and machine', () => {
    expect(installableFiles([file('psycopg2-2.9.10-cp313-cp313-win_amd64.whl')], arm)).toEqual([])
    expect(noFileProblem('psycopg2', '2.9.10', arm)).toBe(
      "the lock has no file of psycopg2 2.9.10 for this server's Python (3.13, aarch64)"
    )
  })
})
