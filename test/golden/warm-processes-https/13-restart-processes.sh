# warm-processes-https/13-restart-processes.sh: the step `restart-processes` (phase restart, as root): Processes: restart worker, clearsessions.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
trap '' HUP PIPE TERM
out=$(mktemp) err=$(mktemp) rc=0
sh -eu >"$out" 2>"$err" <<'DDA_DETACHED' || rc=$?
rm -rf /srv/mysite/.deploy/previous-processes && mkdir -p /srv/mysite/.deploy/previous-processes
if [ -e /etc/systemd/system/mysite-worker.service ]; then cp -p /etc/systemd/system/mysite-worker.service /srv/mysite/.deploy/previous-processes/mysite-worker.service; else : > /srv/mysite/.deploy/previous-processes/mysite-worker.service.absent; fi
if [ -e /etc/systemd/system/mysite-clearsessions.timer ]; then cp -p /etc/systemd/system/mysite-clearsessions.timer /srv/mysite/.deploy/previous-processes/mysite-clearsessions.timer; else : > /srv/mysite/.deploy/previous-processes/mysite-clearsessions.timer.absent; fi
if [ -e /etc/systemd/system/mysite-clearsessions.service ]; then cp -p /etc/systemd/system/mysite-clearsessions.service /srv/mysite/.deploy/previous-processes/mysite-clearsessions.service; else : > /srv/mysite/.deploy/previous-processes/mysite-clearsessions.service.absent; fi
printf %s 'IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCiMgZGphbmdvLWRlcGxveS1hY3Rpb24gcHJvY2VzcyBvZiBteXNpdGUKW1VuaXRdCkRlc2NyaXB0aW9uPW15c2l0ZSBwcm9jZXNzIHdvcmtlcgpBZnRlcj1uZXR3b3JrLnRhcmdldAoKW1NlcnZpY2VdClR5cGU9ZXhlYwpLaWxsTW9kZT1taXhlZApUaW1lb3V0U3RvcFNlYz0zMDAKUmVzdGFydD1hbHdheXMKUmVzdGFydFNlYz0xClVzZXI9bXlzaXRlCkdyb3VwPW15c2l0ZQpXb3JraW5nRGlyZWN0b3J5PS9zcnYvbXlzaXRlL2N1cnJlbnQKRW52aXJvbm1lbnQ9REpBTkdPX1NFVFRJTkdTX01PRFVMRT1teXNpdGUuc2V0dGluZ3MKRW52aXJvbm1lbnQ9UFlUSE9OVU5CVUZGRVJFRD0xCkVudmlyb25tZW50PVBBVEg9L3Nydi9teXNpdGUvY3VycmVudC8udmVudi9iaW46L3Vzci9sb2NhbC9iaW46L3Vzci9iaW46L2JpbgpFbnZpcm9ubWVudEZpbGU9LS9zcnYvbXlzaXRlLy5kZXBsb3kvZW52CkV4ZWNTdGFydD0vdXNyL2Jpbi9lbnYgcHl0aG9uIC1tIGNlbGVyeSAtQSBteXNpdGUgd29ya2VyIC1sIGluZm8KClByb3RlY3RTeXN0ZW09c3RyaWN0ClJlYWRXcml0ZVBhdGhzPS9zcnYvbXlzaXRlL3NoYXJlZApQcm90ZWN0SG9tZT10cnVlClByaXZhdGVUbXA9dHJ1ZQpQcml2YXRlRGV2aWNlcz10cnVlCk5vTmV3UHJpdmlsZWdlcz10cnVlClByb3RlY3RLZXJuZWxUdW5hYmxlcz10cnVlClByb3RlY3RLZXJuZWxNb2R1bGVzPXRydWUKUHJvdGVjdEtlcm5lbExvZ3M9dHJ1ZQpQcm90ZWN0Q29udHJvbEdyb3Vwcz10cnVlClByb3RlY3RDbG9jaz10cnVlClByb3RlY3RIb3N0bmFtZT10cnVlClByb3RlY3RQcm9jPWludmlzaWJsZQpQcm9jU3Vic2V0PXBpZApSZXN0cmljdEFkZHJlc3NGYW1pbGllcz1BRl9VTklYIEFGX0lORVQgQUZfSU5FVDYKUmVzdHJpY3ROYW1lc3BhY2VzPXRydWUKUmVzdHJpY3RSZWFsdGltZT10cnVlClJlc3RyaWN0U1VJRFNHSUQ9dHJ1ZQpMb2NrUGVyc29uYWxpdHk9dHJ1ZQpNZW1vcnlEZW55V3JpdGVFeGVjdXRlPXRydWUKU3lzdGVtQ2FsbEFyY2hpdGVjdHVyZXM9bmF0aXZlClN5c3RlbUNhbGxGaWx0ZXI9QHN5c3RlbS1zZXJ2aWNlClN5c3RlbUNhbGxGaWx0ZXI9fkBwcml2aWxlZ2VkIEByZXNvdXJjZXMKU3lzdGVtQ2FsbEZpbHRlcj1zZXR1aWQgc2V0Z2lkIHNldGdyb3VwcwpDYXBhYmlsaXR5Qm91bmRpbmdTZXQ9CkFtYmllbnRDYXBhYmlsaXRpZXM9ClByaXZhdGVVc2Vycz10cnVlClVNYXNrPTAwMjcKUmVtb3ZlSVBDPXRydWUKRGV2aWNlUG9saWN5PWNsb3NlZAoKW0luc3RhbGxdCldhbnRlZEJ5PW11bHRpLXVzZXIudGFyZ2V0Cg==' | base64 -d > /etc/systemd/system/mysite-worker.service.new
chmod 644 /etc/systemd/system/mysite-worker.service.new && mv -f /etc/systemd/system/mysite-worker.service.new /etc/systemd/system/mysite-worker.service
printf %s 'IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCiMgZGphbmdvLWRlcGxveS1hY3Rpb24gcHJvY2VzcyBvZiBteXNpdGUKW1VuaXRdCkRlc2NyaXB0aW9uPW15c2l0ZSBzY2hlZHVsZSBjbGVhcnNlc3Npb25zCgpbVGltZXJdCk9uQ2FsZW5kYXI9ZGFpbHkKQWNjdXJhY3lTZWM9MXMKUGVyc2lzdGVudD10cnVlCgpbSW5zdGFsbF0KV2FudGVkQnk9dGltZXJzLnRhcmdldAo=' | base64 -d > /etc/systemd/system/mysite-clearsessions.timer.new
chmod 644 /etc/systemd/system/mysite-clearsessions.timer.new && mv -f /etc/systemd/system/mysite-clearsessions.timer.new /etc/systemd/system/mysite-clearsessions.timer
printf %s 'IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCiMgZGphbmdvLWRlcGxveS1hY3Rpb24gcHJvY2VzcyBvZiBteXNpdGUKW1VuaXRdCkRlc2NyaXB0aW9uPW15c2l0ZSBzY2hlZHVsZSBjbGVhcnNlc3Npb25zCgpbU2VydmljZV0KVHlwZT1vbmVzaG90CktpbGxNb2RlPW1peGVkClRpbWVvdXRTdG9wU2VjPTMwMApVc2VyPW15c2l0ZQpHcm91cD1teXNpdGUKV29ya2luZ0RpcmVjdG9yeT0vc3J2L215c2l0ZS9jdXJyZW50CkVudmlyb25tZW50PURKQU5HT19TRVRUSU5HU19NT0RVTEU9bXlzaXRlLnNldHRpbmdzCkVudmlyb25tZW50PVBZVEhPTlVOQlVGRkVSRUQ9MQpFbnZpcm9ubWVudD1QQVRIPS9zcnYvbXlzaXRlL2N1cnJlbnQvLnZlbnYvYmluOi91c3IvbG9jYWwvYmluOi91c3IvYmluOi9iaW4KRW52aXJvbm1lbnRGaWxlPS0vc3J2L215c2l0ZS8uZGVwbG95L2VudgpFeGVjU3RhcnQ9L3Vzci9iaW4vZW52IHB5dGhvbiBtYW5hZ2UucHkgY2xlYXJzZXNzaW9ucwoKUHJvdGVjdFN5c3RlbT1zdHJpY3QKUmVhZFdyaXRlUGF0aHM9L3Nydi9teXNpdGUvc2hhcmVkClByb3RlY3RIb21lPXRydWUKUHJpdmF0ZVRtcD10cnVlClByaXZhdGVEZXZpY2VzPXRydWUKTm9OZXdQcml2aWxlZ2VzPXRydWUKUHJvdGVjdEtlcm5lbFR1bmFibGVzPXRydWUKUHJvdGVjdEtlcm5lbE1vZHVsZXM9dHJ1ZQpQcm90ZWN0S2VybmVsTG9ncz10cnVlClByb3RlY3RDb250cm9sR3JvdXBzPXRydWUKUHJvdGVjdENsb2NrPXRydWUKUHJvdGVjdEhvc3RuYW1lPXRydWUKUHJvdGVjdFByb2M9aW52aXNpYmxlClByb2NTdWJzZXQ9cGlkClJlc3RyaWN0QWRkcmVzc0ZhbWlsaWVzPUFGX1VOSVggQUZfSU5FVCBBRl9JTkVUNgpSZXN0cmljdE5hbWVzcGFjZXM9dHJ1ZQpSZXN0cmljdFJlYWx0aW1lPXRydWUKUmVzdHJpY3RTVUlEU0dJRD10cnVlCkxvY2tQZXJzb25hbGl0eT10cnVlCk1lbW9yeURlbnlXcml0ZUV4ZWN1dGU9dHJ1ZQpTeXN0ZW1DYWxsQXJjaGl0ZWN0dXJlcz1uYXRpdmUKU3lzdGVtQ2FsbEZpbHRlcj1Ac3lzdGVtLXNlcnZpY2UKU3lzdGVtQ2FsbEZpbHRlcj1+QHByaXZpbGVnZWQgQHJlc291cmNlcwpTeXN0ZW1DYWxsRmlsdGVyPXNldHVpZCBzZXRnaWQgc2V0Z3JvdXBzCkNhcGFiaWxpdHlCb3VuZGluZ1NldD0KQW1iaWVudENhcGFiaWxpdGllcz0KUHJpdmF0ZVVzZXJzPXRydWUKVU1hc2s9MDAyNwpSZW1vdmVJUEM9dHJ1ZQpEZXZpY2VQb2xpY3k9Y2xvc2VkCg==' | base64 -d > /etc/systemd/system/mysite-clearsessions.service.new
chmod 644 /etc/systemd/system/mysite-clearsessions.service.new && mv -f /etc/systemd/system/mysite-clearsessions.service.new /etc/systemd/system/mysite-clearsessions.service
systemctl daemon-reload
systemctl enable --quiet mysite-worker.service mysite-clearsessions.timer
since=$(date +%s)
systemctl restart mysite-worker.service mysite-clearsessions.timer || true
run0=$(systemctl show -p InvocationID --value mysite-worker.service)
down() { [ "$(systemctl show -p ActiveState --value "$1")" != active ] || [ "$(systemctl show -p InvocationID --value "$1")" != "$2" ]; }
failed=""
gone() {
  failed=""
  if down mysite-worker.service "$run0"; then failed="$failed mysite-worker.service"; fi
  [ -n "$failed" ]
}
for _ in $(seq 1 20); do gone && break; sleep 0.25; done
gone || true
release=$(basename "$(readlink /srv/mysite/current)")
printf 'process=%s %s %s %s
' worker mysite-worker.service "$(systemctl show -p ActiveState --value mysite-worker.service)" "$release"
printf 'process=%s %s %s %s
' clearsessions mysite-clearsessions.timer "$(systemctl show -p ActiveState --value mysite-clearsessions.timer)" "$release"
for unit in $failed; do
  printf '=== %s did not stay up (%s s); its journal:\n' "$unit" 5 >&2
  journalctl -u "$unit" --since "@$since" --no-pager -o cat -n 200 >&2 || true
done
for unit in $failed; do
  echo "$unit did not stay up: it exited and was restarted by systemd" >&2
done
[ -z "$failed" ]
DDA_DETACHED
cat "$out"; cat "$err" >&2; rm -f "$out" "$err"
exit $rc
