import gc

# Importing the bridge allocates some hundred thousand objects and hardly any garbage, and
# the collector walks them all many times over: off while importing (profiled: 10-25 % of
# the CPU time of the imports, most of `serve`'s start), on again before any command runs.
# Those objects live as long as the process, so they are frozen out of later collections.
gc.disable()
from bot.cli import main  # noqa: E402

gc.freeze()
gc.enable()

if __name__ == "__main__":
    raise SystemExit(main())
