"""The command line: ``tuner run / status / trials / export / train / ...``, a thin face over the
rest (``commands``), its parser (``parser``) and the checks of its arguments (``args``).

Nothing else imports this package; ``tuner --help`` is instant (every command imports what it
needs when it runs).
"""

from tuner.cli.commands import main

__all__ = ["main"]
