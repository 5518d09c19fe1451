// Lets the bench scripts run as TypeScript on Node 24 without a build: Node strips the types, and
// this hook maps the `./x.js` specifiers that tsc (NodeNext) wants to the `./x.ts` files that exist,
// so bench/ can import test/e2e's helpers exactly as the jest tests do.
//   node --experimental-transform-types --import ./bench/register.mjs bench/speed.ts
// (transform-types: the action's own modules, which bench/ imports, use enums)
import { existsSync } from 'node:fs'
import { registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (/^\.{1,2}\/.*\.js$/.test(specifier) && context.parentURL?.startsWith('file:')) {
      const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL)
      const js = new URL(specifier, context.parentURL)
      if (!existsSync(fileURLToPath(js)) && existsSync(fileURLToPath(ts))) {
        return nextResolve(ts.href, context)
      }
    }
    return nextResolve(specifier, context)
  }
})
