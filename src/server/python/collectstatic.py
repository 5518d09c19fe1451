# collectstatic comparing contents, not times: a file whose content did not change is not copied
# again (the previous release's collected files are linked in first, see manage.ts
# collectStaticRoot), a changed one always is, whatever the modification times say (an upload
# sets them all). Uses manage(), defined by django_process.py.
def collectstatic():
    import filecmp
    from django.contrib.staticfiles.management.commands.collectstatic import Command
    class Collect(Command):
        def delete_file(self, path, prefixed_path, source_storage):
            if not self.storage.exists(prefixed_path):
                return True
            try:
                same = filecmp.cmp(source_storage.path(path), self.storage.path(prefixed_path), shallow=False)
            except (AttributeError, NotImplementedError, OSError):
                return super().delete_file(path, prefixed_path, source_storage)
            if same:
                if prefixed_path not in self.unmodified_files:
                    self.unmodified_files.append(prefixed_path)
                return False
            self.storage.delete(prefixed_path)
            return True
    manage(Collect(), interactive=False)
