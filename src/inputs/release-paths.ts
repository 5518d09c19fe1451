// What a real project needs beside its code: paths kept across releases (shared-paths), paths
// the app writes at run time (writable-paths), and management commands that build the release
// (build-commands).

import { Input } from '../constants.js'
import { appFolderProblem } from '../grammar/paths.js'
import type { Settings } from '../settings.js'
import { hasDotSegment, InputError, type InputReader, splitList } from './read.js'

const RELATIVE = /^[A-Za-z0-9_.@+-]+(?:\/[A-Za-z0-9_.@+-]+)*\/?$/
/** One word of a management command: no shell or systemd meaning, and it is quoted anyway. */
const WORD = /^[A-Za-z0-9_.,:=/@+-]+$/

export function readReleasePaths(
  read: InputReader,
  where: { deployPath: string; appUser: string }
): Pick<Settings, 'sharedPaths' | 'writablePaths' | 'buildCommands'> {
  return {
    sharedPaths: readSharedPaths(read),
    writablePaths: splitList(read.raw(Input.WritablePaths)).map((path) => {
      const problem = appFolderProblem(path, where)
      if (problem) throw new InputError(Input.WritablePaths, problem)
      return path.replace(/\/+$/, '')
    }),
    buildCommands: read
      .raw(Input.BuildCommands)
      .split('\n')
      .map((line) => line.trim().replace(/^(?:python3? )?(?:\.\/)?manage\.py\s+/, ''))
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => {
        const words = line.split(/\s+/)
        if (!/^[a-z_][a-z0-9_]*$/.test(words[0]) || !words.every((w) => WORD.test(w))) {
          throw new InputError(
            Input.BuildCommands,
            `'${line}' is not a manage.py command (a command name and plain arguments, one per line, e.g. compress --force)`
          )
        }
        return words
      })
  }
}

function readSharedPaths(read: InputReader): string[] {
  const paths = splitList(read.raw(Input.SharedPaths))
  if (paths.length > 50) throw new InputError(Input.SharedPaths, 'names more than 50 paths')
  return paths.map((path) => {
    const first = path.split('/')[0]
    if (
      path.length > 1024 ||
      !RELATIVE.test(path) ||
      hasDotSegment(path.replace(/\/$/, '')) ||
      ['.venv', '.deploy-failed'].includes(first)
    ) {
      throw new InputError(
        Input.SharedPaths,
        `'${path}' must be a path inside the release (letters, digits, _ . - @ +; a folder ends with /), e.g. db.sqlite3 or media/`
      )
    }
    return path
  })
}
