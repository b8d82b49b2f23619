"""Data that does not start in git becomes reviewed spec files.

``siro``: Siro scorecard metric values → customer-metric records, by the mapping in
reconciler.yaml. ``zelto``: the records Zelto already holds → specs that adopt them. Both write
deterministic files marked as generated, never touch hand-written specs, and write all or nothing
after the spec loader has accepted the result.

Modules: ``siro_records`` (pure mapping), ``recordings`` (the recording → conversation file),
``specfile`` (deterministic text and safe writes), ``writing`` (validate, then write all or
nothing), ``siro_import`` and ``zelto_import`` (the two commands' runs). Import from them directly;
this package does not import them eagerly, so the pure parts load without the HTTP stack.
"""
