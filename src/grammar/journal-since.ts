// logs-since: a systemd time, as journalctl's --since reads it. Only two forms are accepted, each
// checked whole: a span back from now (1h, 30min, 1h 30min), sent as `-1h 30min`; and a date or
// a date and time on the host's clock (2026-12-05, 2026-12-05 14:30[:00]), sent as given. Pure.

/** systemd's span units (man systemd.time) from a second to a week: no month or year. */
const SPAN_UNITS = [
  's',
  'sec',
  'second',
  'seconds',
  'm',
  'min',
  'minute',
  'minutes',
  'h',
  'hr',
  'hour',
  'hours',
  'd',
  'day',
  'days',
  'w',
  'week',
  'weeks'
]
const SPAN_PART = `[0-9]{1,6} ?(?:${SPAN_UNITS.join('|')})`
const SPAN = new RegExp(`^${SPAN_PART}(?: ?${SPAN_PART})*$`)
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?::\d{2})?)?$/

export const SINCE_ALLOWED =
  'a span back from now (90s, 30min, 1h, 2d, 1w, or parts together: 1h 30min) or a time on the host (YYYY-MM-DD, YYYY-MM-DD HH:MM or YYYY-MM-DD HH:MM:SS)'

/** The text journalctl's --since is given, or why `text` is not a time this input takes. */
export function parseSince(text: string): { journal: string } | { problem: string } {
  const given = text.trim()
  if (SPAN.test(given)) return { journal: `-${given}` }
  if (!DATE_TIME.test(given)) return { problem: `'${given}' is not ${SINCE_ALLOWED}` }
  // A date that does not exist (02-30, 24:00) comes back from Date as another one.
  const [day, time = '00:00'] = given.split(' ')
  const iso = `${day}T${time.length === 5 ? `${time}:00` : time}.000Z`
  const real = !Number.isNaN(Date.parse(iso)) && new Date(iso).toISOString() === iso
  if (!real) return { problem: `'${given}' is no date and time on a calendar (${SINCE_ALLOWED})` }
  return { journal: given }
}
