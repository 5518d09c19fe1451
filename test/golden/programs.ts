// Every Python program the action sends to a server with `python -c`, and the files under
// src/server/python/ it is made of, in order: what the golden scripts show in its place and what
// __tests__/python.test.ts lints.

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CERT_PY } from '../../src/server/acme.js'
import { ASGI_IMPORT_PY } from '../../src/server/asgi.js'
import { BOUNDARY_PY } from '../../src/server/boundary.js'
import { DISCOVER_PY } from '../../src/server/discover.js'
import { HEALTH_PY } from '../../src/server/health.js'
import { INTERPRETER_PY, SERVER_PYTHON_PY } from '../../src/server/inspect.js'
import { DJANGO_PY } from '../../src/server/manage.js'
import { PLAN_PY, RESTORE_PY } from '../../src/server/migrations.js'
import { PIP_WHEEL_PY } from '../../src/server/release.js'
import { sh } from '../../src/shell.js'
import { ROOT } from '../e2e/action.js'

export const PYTHON_FOLDER = join(ROOT, 'src', 'server', 'python')

export interface Program {
  /** a name for messages and temporary files */
  name: string
  /** the files it is made of, in the order they are sent */
  files: string[]
  text: string
}

export const PROGRAMS: Program[] = [
  { name: 'boundary', files: ['boundary_trees.py', 'boundary.py'], text: BOUNDARY_PY },
  {
    name: 'django_process',
    files: [
      'preflight.py',
      'settings.py',
      'migration_plan.py',
      'pg_env.py',
      'backup.py',
      'collectstatic.py',
      'django_process.py'
    ],
    text: DJANGO_PY
  },
  { name: 'discover', files: ['preflight.py', 'settings.py', 'discover.py'], text: DISCOVER_PY },
  { name: 'plan', files: ['migration_plan.py', 'plan.py'], text: PLAN_PY },
  { name: 'restore', files: ['pg_env.py', 'restore.py'], text: RESTORE_PY },
  { name: 'health', files: ['boot_watch.py', 'health.py'], text: HEALTH_PY },
  { name: 'certificate', files: ['certificate.py'], text: CERT_PY },
  { name: 'interpreter', files: ['interpreter.py'], text: INTERPRETER_PY },
  { name: 'pip_wheel', files: ['pip_wheel.py'], text: PIP_WHEEL_PY },
  { name: 'server_python', files: ['server_python.py'], text: SERVER_PYTHON_PY },
  { name: 'asgi_import', files: ['asgi_import.py'], text: ASGI_IMPORT_PY }
]

/** The program as its files hold it (the module's text must be the same). */
export function fromFiles(program: Program): string {
  return program.files.map((f) => readFileSync(join(PYTHON_FOLDER, f), 'utf8')).join('')
}

/**
 * The script with every program cut out: `'<python/a.py + python/b.py>'` where the program was
 * (one shell word, as the quoted program is).
 */
export function withProgramsNamed(text: string): string {
  let out = text
  for (const program of PROGRAMS) {
    const label = `'<${program.files.map((f) => `python/${f}`).join(' + ')}>'`
    out = out.split(sh`${program.text}`.text).join(label)
  }
  return out
}
