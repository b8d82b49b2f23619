"""The library engine: what ``plan`` and ``apply`` run (the public entry: ``reconciler.Workspace``).

``workspace`` is the one entry point; ``specs`` decides which spec files are read, ``scope`` which
conversations a plan covers, ``steps`` carries out the network steps in sessions it owns. This file
imports none of them: ``validate`` (a pre-commit hook) needs ``specs`` without the HTTP stack.
"""
