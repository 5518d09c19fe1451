// A Debian package name, as Debian Policy 5.6.1 defines it: lower-case letters, digits, + - .,
// at least two characters, starting with a letter or digit. Checked before anything is sent, so
// no name reaches apt-get that apt could read as an option or a pattern.

// Not ending in - or + (apt reads those as remove and install).
const NAME = /^[a-z0-9][a-z0-9+.-]*[a-z0-9.]$/

/** Why `name` is not a Debian package name, or undefined when it is one. */
export function debianPackageProblem(name: string): string | undefined {
  if (name.length <= 100 && NAME.test(name)) return undefined
  return `'${name}' is not a Debian package name (lower-case letters, digits, + - and ., at least two characters, starting with a letter or digit, not ending in + or -), e.g. python3-psycopg2`
}
