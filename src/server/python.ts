// The Python programs the steps run on the server are files of their own (python/*.py beside
// this module), so that a reviewer reads them as Python and the tests lint them. The bundler
// copies each file a `new URL('./python/x.py', import.meta.url)` names into dist/: these are the
// action's own files, never the runner's.
import { readFileSync } from 'node:fs'

/** The text of one program file, named by its URL beside the module that sends it. */
export const pythonFile = (url: URL): string => readFileSync(url, 'utf8')
