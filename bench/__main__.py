"""`python -m bench`; the guard matters: engines that spawn processes (vLLM) re-import the main module."""

from bench.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
