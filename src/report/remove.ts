// A remove's part of the job summary, per host: what went (counts, and the list folded), what was
// kept (the data, the app user). Every name the host said is escaped; the lists are fenced.

import type { RemovalReport } from '../server/remove.js'
import { escape, fence } from './report.js'

/** A folded list shows at most this many lines (the summary's size is limited). */
const LIST_MAX = 500

/** The summary's lines for one host's removal (`host` already escaped by the caller). */
export function removalMarkdown(host: string, r: RemovalReport, dryRun: boolean): string[] {
  const would = dryRun ? 'Would remove' : 'Removed'
  const files = r.entries.reduce((sum, e) => sum + e.count, 0)
  const counts = [
    `${r.units.length} units`,
    `${r.files.length} site and runtime files`,
    `${r.entries.length} entries of the deploy path (${files} paths)`,
    ...(r.certificate ? ['the certificate'] : []),
    ...(r.database ? [`the database ${r.database} and its role`] : [])
  ]
  const listed = [
    ...r.units.map((unit) => `unit ${unit}`),
    ...r.files,
    ...r.entries.map((e) => `${e.name} (${e.count} paths)`),
    ...(r.certificate ? ['the certificate (certbot delete)'] : []),
    ...(r.database ? [`database ${r.database} (and its role)`] : []),
    ...(r.paths ?? [])
  ]
  const shown = listed.slice(0, LIST_MAX)
  if (listed.length > shown.length) shown.push(`... and ${listed.length - shown.length} more`)
  return [
    `${would}: ${counts.join(', ')}.`,
    '',
    `Kept: ${r.kept.length > 0 ? r.kept.map((k) => `\`${escape(k)}\``).join(', ') : 'no data'}; the app user: ${escape(r.user)}.`,
    '',
    `<details><summary>${would} on ${host}</summary>`,
    fence(shown.join('\n')),
    '</details>'
  ]
}
