// What the action reads of the checked-out repository on the runner (besides the upload itself).

import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

/**
 * The requirements file and the files it includes (-r, -c), read on the runner for the venv's
 * key; null when there is none.
 */
export function requirementsFiles(
  source: string,
  requirements: string
): Array<{ path: string; text: string }> | null {
  const files: Array<{ path: string; text: string }> = []
  const visit = (path: string) => {
    if (files.some((f) => f.path === path) || files.length > 50 || !existsSync(join(source, path)))
      return
    const text = readFileSync(join(source, path), 'utf8')
    files.push({ path, text })
    for (const match of text.matchAll(/^\s*(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)/gm)) {
      visit(normalize(join(dirname(path), match[1])))
    }
  }
  visit(requirements)
  return files.length > 0 ? files : null
}
