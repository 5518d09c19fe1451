// What any step's script may use, whatever its concern: the exit codes the flow tells apart, and
// a body done whole. Here, not in the module of one concern, so that every step can import them.

import { raw, script, type ShellText } from '../shell.js'

/** Exit code a step uses when a gate rejects the new files (they were put back). */
export const GATE_FAILED = 42

/**
 * A script that runs to its end once started, even when the runner is killed or the connection
 * drops half-way (its output then has nowhere to go): a switch or a rollback is done whole, never
 * half. Its output is printed when it ends. TERM too is ignored (inherited by the body's shell):
 * a clean shutdown sends it to every session before it powers off, and these scripts take less
 * than a second; a switch cut there would boot half switched.
 */
export function detached(body: ShellText): ShellText {
  return script(
    raw("trap '' HUP PIPE TERM"),
    raw('out=$(mktemp) err=$(mktemp) rc=0'),
    raw(`sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?`),
    body,
    raw('DDA_DETACHED'),
    raw('cat "$out"; cat "$err" >&2; rm -f "$out" "$err"'),
    raw('exit $rc')
  )
}
