# Prints `certificate=<days left> <names>` for the certificate file argv[1] (server/acme.ts).
import ssl, sys, time
# The C module's decoder of a PEM file (no public API reads a certificate file's fields).
cert = ssl._ssl._test_decode_cert(sys.argv[1])  # type: ignore[attr-defined]
days = int((ssl.cert_time_to_seconds(cert['notAfter']) - time.time()) // 86400)
print('certificate=%d %s' % (days, ','.join(v for k, v in cert.get('subjectAltName', ()) if k == 'DNS')))
