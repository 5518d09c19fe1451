# first-deploy/07-nginx-t.sh: the step `nginx-t` (phase gates, as root): nginx -t with the new site.
# Generated from the code by `npm run golden` (test/golden/plans.ts): do not edit. Each
# '<python/x.py + ...>' stands for a Python program (src/server/python/), sent quoted in its place.
if [ -f /srv/mysite/.deploy.steps ]; then exec 8</srv/mysite/.deploy.steps; flock -s 8; fi
set -eu
rm -rf /srv/mysite/.deploy/previous /srv/mysite/.deploy/staged /srv/mysite/.deploy/changed && mkdir -p /srv/mysite/.deploy/previous /srv/mysite/.deploy/staged
if [ -e '/etc/systemd/system/gunicorn-mysite@.socket' ]; then cp -p '/etc/systemd/system/gunicorn-mysite@.socket' '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket'; else : > '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket'.absent; fi
if [ -e '/etc/systemd/system/gunicorn-mysite@.service' ]; then cp -p '/etc/systemd/system/gunicorn-mysite@.service' '/srv/mysite/.deploy/previous/gunicorn-mysite@.service'; else : > '/srv/mysite/.deploy/previous/gunicorn-mysite@.service'.absent; fi
if [ -e /etc/nginx/sites-available/mysite ]; then cp -p /etc/nginx/sites-available/mysite /srv/mysite/.deploy/previous/mysite; else : > /srv/mysite/.deploy/previous/mysite.absent; fi
[ -L /etc/nginx/sites-enabled/mysite ] || : > /srv/mysite/.deploy/previous/site-link.absent
restore() {
if [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket' ]; then cp -p '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.socket'.new '/etc/systemd/system/gunicorn-mysite@.socket'; elif [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.socket'.absent ]; then rm -f '/etc/systemd/system/gunicorn-mysite@.socket'; fi
if [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.service' ]; then cp -p '/srv/mysite/.deploy/previous/gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.service'.new '/etc/systemd/system/gunicorn-mysite@.service'; elif [ -e '/srv/mysite/.deploy/previous/gunicorn-mysite@.service'.absent ]; then rm -f '/etc/systemd/system/gunicorn-mysite@.service'; fi
if [ -e /srv/mysite/.deploy/previous/mysite ]; then cp -p /srv/mysite/.deploy/previous/mysite /etc/nginx/sites-available/mysite.new && mv -f /etc/nginx/sites-available/mysite.new /etc/nginx/sites-available/mysite; elif [ -e /srv/mysite/.deploy/previous/mysite.absent ]; then rm -f /etc/nginx/sites-available/mysite; fi
if [ -e /srv/mysite/.deploy/previous/site-link.absent ]; then rm -f /etc/nginx/sites-enabled/mysite; fi
if [ -e /srv/mysite/.deploy/previous/default-link ]; then ln -sfn /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default; fi
}
changed=""
printf %s IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCltVbml0XQpEZXNjcmlwdGlvbj1ndW5pY29ybiBzb2NrZXQgZm9yIG15c2l0ZSwgJWkKCltTb2NrZXRdCkxpc3RlblN0cmVhbT0vcnVuL2d1bmljb3JuLW15c2l0ZUAlaS5zb2NrClNvY2tldFVzZXI9d3d3LWRhdGEKU29ja2V0R3JvdXA9d3d3LWRhdGEKU29ja2V0TW9kZT0wNjAwCgpbSW5zdGFsbF0KV2FudGVkQnk9c29ja2V0cy50YXJnZXQK | base64 -d > '/srv/mysite/.deploy/staged/gunicorn-mysite@.socket'
chmod 644 /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket'
if ! cmp -s /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket'; then changed="$changed "'gunicorn-mysite@.socket'; fi
cp -p /srv/mysite/.deploy/staged/'gunicorn-mysite@.socket' '/etc/systemd/system/gunicorn-mysite@.socket'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.socket'.new '/etc/systemd/system/gunicorn-mysite@.socket'
printf %s 'IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCltVbml0XQpEZXNjcmlwdGlvbj1ndW5pY29ybiBmb3IgbXlzaXRlLCAlaQpSZXF1aXJlcz1ndW5pY29ybi1teXNpdGVAJWkuc29ja2V0CkFmdGVyPWd1bmljb3JuLW15c2l0ZUAlaS5zb2NrZXQKQWZ0ZXI9bmV0d29yay50YXJnZXQKCltTZXJ2aWNlXQpUeXBlPW5vdGlmeQpOb3RpZnlBY2Nlc3M9bWFpbgpVc2VyPW15c2l0ZQpHcm91cD1teXNpdGUKV29ya2luZ0RpcmVjdG9yeT0vc3J2L215c2l0ZS9pbnN0YW5jZXMvJWkKRW52aXJvbm1lbnQ9REpBTkdPX1NFVFRJTkdTX01PRFVMRT1teXNpdGUuc2V0dGluZ3MKRW52aXJvbm1lbnQ9UFlUSE9OVU5CVUZGRVJFRD0xCkVudmlyb25tZW50RmlsZT0tL3Nydi9teXNpdGUvLmRlcGxveS9lbnYKRXhlY1N0YXJ0PS9zcnYvbXlzaXRlL2luc3RhbmNlcy8laS8udmVudi9iaW4vcHl0aG9uIC1tIGd1bmljb3JuIC0td29ya2VycyA1IG15c2l0ZS53c2dpOmFwcGxpY2F0aW9uCkV4ZWNSZWxvYWQ9L2Jpbi9raWxsIC1zIEhVUCAkTUFJTlBJRApLaWxsTW9kZT1taXhlZApUaW1lb3V0U3RvcFNlYz0zNQpSZXN0YXJ0PW9uLWZhaWx1cmUKUmVzdGFydFNlYz0xCgpQcm90ZWN0U3lzdGVtPXN0cmljdApSZWFkV3JpdGVQYXRocz0vc3J2L215c2l0ZS9zaGFyZWQKUHJvdGVjdEhvbWU9dHJ1ZQpQcml2YXRlVG1wPXRydWUKUHJpdmF0ZURldmljZXM9dHJ1ZQpOb05ld1ByaXZpbGVnZXM9dHJ1ZQpQcm90ZWN0S2VybmVsVHVuYWJsZXM9dHJ1ZQpQcm90ZWN0S2VybmVsTW9kdWxlcz10cnVlClByb3RlY3RLZXJuZWxMb2dzPXRydWUKUHJvdGVjdENvbnRyb2xHcm91cHM9dHJ1ZQpQcm90ZWN0Q2xvY2s9dHJ1ZQpQcm90ZWN0SG9zdG5hbWU9dHJ1ZQpQcm90ZWN0UHJvYz1pbnZpc2libGUKUHJvY1N1YnNldD1waWQKUmVzdHJpY3RBZGRyZXNzRmFtaWxpZXM9QUZfVU5JWCBBRl9JTkVUIEFGX0lORVQ2ClJlc3RyaWN0TmFtZXNwYWNlcz10cnVlClJlc3RyaWN0UmVhbHRpbWU9dHJ1ZQpSZXN0cmljdFNVSURTR0lEPXRydWUKTG9ja1BlcnNvbmFsaXR5PXRydWUKTWVtb3J5RGVueVdyaXRlRXhlY3V0ZT10cnVlClN5c3RlbUNhbGxBcmNoaXRlY3R1cmVzPW5hdGl2ZQpTeXN0ZW1DYWxsRmlsdGVyPUBzeXN0ZW0tc2VydmljZQpTeXN0ZW1DYWxsRmlsdGVyPX5AcHJpdmlsZWdlZCBAcmVzb3VyY2VzClN5c3RlbUNhbGxGaWx0ZXI9c2V0dWlkIHNldGdpZCBzZXRncm91cHMKQ2FwYWJpbGl0eUJvdW5kaW5nU2V0PQpBbWJpZW50Q2FwYWJpbGl0aWVzPQpQcml2YXRlVXNlcnM9dHJ1ZQpVTWFzaz0wMDI3ClJlbW92ZUlQQz10cnVlCkRldmljZVBvbGljeT1jbG9zZWQKCltJbnN0YWxsXQpXYW50ZWRCeT1tdWx0aS11c2VyLnRhcmdldAo=' | base64 -d > '/srv/mysite/.deploy/staged/gunicorn-mysite@.service'
chmod 644 /srv/mysite/.deploy/staged/'gunicorn-mysite@.service'
if ! cmp -s /srv/mysite/.deploy/staged/'gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service'; then changed="$changed "'gunicorn-mysite@.service'; fi
cp -p /srv/mysite/.deploy/staged/'gunicorn-mysite@.service' '/etc/systemd/system/gunicorn-mysite@.service'.new && mv -f '/etc/systemd/system/gunicorn-mysite@.service'.new '/etc/systemd/system/gunicorn-mysite@.service'
printf %s 'IyBNYW5hZ2VkIGJ5IGRqYW5nby1kZXBsb3ktYWN0aW9uOyBjaGFuZ2VzIGFyZSBvdmVyd3JpdHRlbiBvbiB0aGUgbmV4dCBkZXBsb3kuCgp1cHN0cmVhbSBndW5pY29ybl9teXNpdGUgewogICAgc2VydmVyIHVuaXg6L3J1bi9ndW5pY29ybi1teXNpdGUuc29jayBmYWlsX3RpbWVvdXQ9MDsKfQoKc2VydmVyIHsKICAgIGxpc3RlbiA4MDsKICAgIGxpc3RlbiBbOjpdOjgwOwogICAgc2VydmVyX25hbWUgZXhhbXBsZS5jb207CgogICAgY2xpZW50X21heF9ib2R5X3NpemUgMTBtOwoKICAgIGxvY2F0aW9uID0gL2Zhdmljb24uaWNvIHsgYWNjZXNzX2xvZyBvZmY7IGxvZ19ub3RfZm91bmQgb2ZmOyB9CgogICAgbG9jYXRpb24gL3N0YXRpYy8gewogICAgICAgIGFsaWFzIC9zcnYvbXlzaXRlL2N1cnJlbnQvc3RhdGljZmlsZXMvOwogICAgICAgIGRpc2FibGVfc3ltbGlua3Mgb24gZnJvbT0vc3J2L215c2l0ZS9jdXJyZW50OwogICAgICAgIGV4cGlyZXMgMzBkOwogICAgfQoKICAgIGxvY2F0aW9uIC9tZWRpYS8gewogICAgICAgIGFsaWFzIC9zcnYvbXlzaXRlL3NoYXJlZC9tZWRpYS87CiAgICAgICAgZGlzYWJsZV9zeW1saW5rcyBvbiBmcm9tPS9zcnYvbXlzaXRlOwogICAgfQoKICAgIGxvY2F0aW9uIC8gewogICAgICAgIHByb3h5X3NldF9oZWFkZXIgSG9zdCAkaHR0cF9ob3N0OwogICAgICAgIHByb3h5X3NldF9oZWFkZXIgWC1Gb3J3YXJkZWQtRm9yICRwcm94eV9hZGRfeF9mb3J3YXJkZWRfZm9yOwogICAgICAgIHByb3h5X3NldF9oZWFkZXIgWC1Gb3J3YXJkZWQtUHJvdG8gJHNjaGVtZTsKICAgICAgICBwcm94eV9zZXRfaGVhZGVyIFgtUmVhbC1JUCAkcmVtb3RlX2FkZHI7CiAgICAgICAgcHJveHlfcmVkaXJlY3Qgb2ZmOwogICAgICAgIHByb3h5X3Bhc3MgaHR0cDovL2d1bmljb3JuX215c2l0ZTsKICAgIH0KfQo=' | base64 -d > /srv/mysite/.deploy/staged/mysite
chmod 644 /srv/mysite/.deploy/staged/mysite
if ! cmp -s /srv/mysite/.deploy/staged/mysite /etc/nginx/sites-available/mysite; then changed="$changed "mysite; fi
cp -p /srv/mysite/.deploy/staged/mysite /etc/nginx/sites-available/mysite.new && mv -f /etc/nginx/sites-available/mysite.new /etc/nginx/sites-available/mysite
ln -sfn /etc/nginx/sites-available/mysite /etc/nginx/sites-enabled/mysite
if ! out=$(nginx -t 2>&1); then
  restore
  printf "%s\n" "$out" >&2
  exit 42
fi
restore
# shellcheck disable=SC2086 # $changed splits into the names of the files that changed
printf '%s
' $changed > /srv/mysite/.deploy/changed
echo "changed=$changed"
