"""What each vendor API promises, and what this project assumes where the vendor is silent.

One registry per API (:mod:`.zelto`, :mod:`.siro`). Every entry quotes the vendor's own page
(``contracts/vendor/``) or says "assumed", states the value the code relies on, what the client
does about it, and how the live suite (``tests/live``) checks it. Clients, planner and applier read
these values from here, so when a live probe disagrees, one edit here changes the product; the
emulator keeps its own copy (``reconciler.emulator.contract``) and a test checks the two agree.

This package is pure data: it imports nothing from the project, so any layer may read it.
"""

from reconciler.contract.registry import Entry, Registry

__all__ = ["Entry", "Registry"]
