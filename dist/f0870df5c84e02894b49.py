# Prints the pip wheel ensurepip installs from: the distribution's (Debian's WHEEL_PKG_DIR) or
# Python's own bundled one; nothing when there is none (server/release.ts).
import glob, os, sysconfig, ensurepip
folders = [sysconfig.get_config_var('WHEEL_PKG_DIR'), os.path.join(os.path.dirname(ensurepip.__file__), '_bundled')]
wheels = [sorted(glob.glob(os.path.join(f, 'pip-*.whl'))) for f in folders if f]
print(next((w[-1] for w in wheels if w), ''))
