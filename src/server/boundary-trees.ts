// The root boundary's walks over trees (python/boundary_trees.py, part of BOUNDARY_PY,
// src/server/boundary-program.ts): every function works on descriptors, reaching each entry
// without following a link.

import { pythonFile } from './python.js'

export const TREES_PY = pythonFile(new URL('./python/boundary_trees.py', import.meta.url))
