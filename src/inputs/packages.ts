// provision and apt-packages: the Debian packages the run installs on each host when missing.

import { Input } from '../constants.js'
import { debianPackageProblem } from '../grammar/debian-package.js'
import type { Settings } from '../settings.js'
import { InputError, type InputReader, splitList } from './read.js'

export function readPackages(read: InputReader): Pick<Settings, 'provision' | 'aptPackages'> {
  const names = splitList(read.raw(Input.AptPackages), /[\s,]+/)
  if (names.length > 100) throw new InputError(Input.AptPackages, 'names more than 100 packages')
  for (const name of names) {
    const problem = debianPackageProblem(name)
    if (problem) throw new InputError(Input.AptPackages, problem)
  }
  return { provision: read.bool(Input.Provision), aptPackages: [...new Set(names)] }
}
