// Imported first by the entry: ssh2's bundled emscripten code reads __dirname, which ES modules
// do not have. Defining it before anything else is evaluated keeps the bundle starting.
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const globals = globalThis as { __dirname?: string; __filename?: string }
globals.__filename ??= fileURLToPath(import.meta.url)
globals.__dirname ??= dirname(globals.__filename)
