# warm-processes-https/16-prune.sh: the step `prune` (phase cleanup, as root): Keep the 5 newest releases.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
mkdir -p /srv/mysite/.deploy/deployed && printf '%s
' aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 'eyJTVEFUSUNfVVJMIjoiL3N0YXRpYy8iLCJTVEFUSUNfUk9PVCI6Ii9zcnYvbXlzaXRlL3JlbGVhc2VzLzIwMjYxMjA1VDEyMDAwMFotMWEyYjNjNC9zdGF0aWNmaWxlcyIsIk1FRElBX1VSTCI6Ii9tZWRpYS8iLCJNRURJQV9ST09UIjoiL3Nydi9teXNpdGUvcmVsZWFzZXMvMjAyNjEyMDVUMTIwMDAwWi0xYTJiM2M0L21lZGlhIiwiU1FMSVRFIjpbIi9zcnYvbXlzaXRlL3JlbGVhc2VzLzIwMjYxMjA1VDEyMDAwMFotMWEyYjNjNC9kYi5zcWxpdGUzIl0sIlNUT1JBR0UiOiIvc3J2L215c2l0ZS9yZWxlYXNlcy8yMDI2MTIwNVQxMjAwMDBaLTFhMmIzYzQvbWVkaWEiLCJSRUZVU0VEX0hPU1RTIjpbXSwiU1NMX1JFRElSRUNUIjpmYWxzZSwiREFUQUJBU0UiOiJkamFuZ28uZGIuYmFja2VuZHMuc3FsaXRlMyIsIlNUQVRJQ19TVE9SQUdFIjoiZGphbmdvLmNvbnRyaWIuc3RhdGljZmlsZXMuc3RvcmFnZS5TdGF0aWNGaWxlc1N0b3JhZ2UifQ==' > /srv/mysite/.deploy/deployed/20261205T120000Z-1a2b3c4
cd /srv/mysite/releases
# shellcheck disable=SC2010 # ls: root's folder, names root chose (no line break in any)
ls -1 | grep -xE '[0-9]{8}T[0-9]{6}Z-[0-9a-z]+' | sort -r | tail -n +6 | while read -r release; do
  if [ "$release" != 20261205T120000Z-1a2b3c4 ] && [ "$release" != 20261201T090000Z-0f0e0d0 ]; then rm -rf -- "$release" /srv/mysite/.deploy/failed/"$release" /srv/mysite/.deploy/served/"$release" /srv/mysite/.deploy/migrated/"$release" /srv/mysite/.deploy/deployed/"$release" /srv/mysite/backups/"$release".sqlite3 /srv/mysite/backups/"$release".pgdump; echo "removed $release"; fi
done
if [ -d /srv/mysite/venvs ]; then
  used=$(for r in */; do readlink "$r.venv" 2>/dev/null || true; done)
  for venv in /srv/mysite/venvs/*; do
    [ -e "$venv" ] || continue
    case "$used" in *"/${venv##*/}"*) ;; *) rm -rf -- "$venv"; echo "removed the venv ${venv##*/}" ;; esac
  done
fi
