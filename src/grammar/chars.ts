// How a message shows a character it refuses; shared by the grammars and the input readers.

/** A character as a message can show it: printable ASCII as itself, anything else by its code. */
export function describeChar(c: string): string {
  if (c === "'") return "a quote (')"
  return /^[\x21-\x7e]$/.test(c)
    ? `'${c}'`
    : `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}
