// The root boundary's program (src/server/boundary.ts says what each operation does, SECURITY.md
// why it is safe): Python, run by root with -I -S, nothing imported but the standard library.

import { TREES_PY } from './boundary-trees.js'
import { pythonFile } from './python.js'

/** The exit status of a `ready` operation that found no complete venv (NOT_READY in the program). */
export const NOT_READY = 4

/**
 * The operations, in Python (python/boundary.py), after the walks they use (which look up the
 * names the operations define only when called). The program is the same text at every call:
 * what it works on comes as arguments.
 */
export const BOUNDARY_PY = TREES_PY + pythonFile(new URL('./python/boundary.py', import.meta.url))
