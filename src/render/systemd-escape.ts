// Escaping for values written into systemd unit files. Settings validation rejects hostile values
// before render; these helpers stay correct on their own so a missed check cannot change a unit.
// Rules: systemd.syntax(7) "Quoting", systemd.unit(5) "Specifiers", systemd.service(5) "Command lines".

// Characters that never need quoting in a systemd word ('%' is doubled, never quoted).
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/
const CONTROL = /\p{Cc}/u

function assertPrintable(value: string): void {
  // A newline would start a new directive; no quoting form is accepted in every setting.
  if (CONTROL.test(value)) {
    throw new RangeError(`control character in a systemd unit value: ${JSON.stringify(value)}`)
  }
}

/** `%` → `%%`, so specifiers such as `%h` stay literal. */
function escapeSpecifiers(value: string): string {
  assertPrintable(value)
  return value.replaceAll('%', '%%')
}

function quoteIfNeeded(escaped: string): string {
  if (SAFE_WORD.test(escaped)) return escaped
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
}

/**
 * A whole-line value of a setting that is taken verbatim apart from specifiers
 * (WorkingDirectory=, User=, Description=, ListenStream=, EnvironmentFile=...): no quoting exists.
 */
export function systemdValue(value: string): string {
  // The parser strips surrounding blanks, and a trailing backslash continues the line.
  if (value !== value.trim() || value.endsWith('\\')) {
    throw new RangeError(`cannot be written as a systemd value: ${JSON.stringify(value)}`)
  }
  return escapeSpecifiers(value)
}

/**
 * One item of a quoted list without variable expansion (Environment=, ReadWritePaths=): `$` is
 * literal there, so it must not be doubled.
 */
export function systemdWord(value: string): string {
  return quoteIfNeeded(escapeSpecifiers(value))
}

/** One argument of an Exec*= command line: specifiers, `$` expansion and quoting all neutralised. */
export function systemdQuote(arg: string): string {
  return quoteIfNeeded(escapeSpecifiers(arg).replaceAll('$', () => '$$'))
}

/** The program of an Exec*= line: absolute, and never variable-expanded, so `$` has no escape. */
export function systemdExecutable(path: string): string {
  if (!path.startsWith('/') || path.includes('$')) {
    throw new RangeError(`cannot be written as a systemd executable path: ${JSON.stringify(path)}`)
  }
  return quoteIfNeeded(escapeSpecifiers(path))
}
