"""Running a plan: run lifecycle (start, resume, lock), one cell's runner, load modes, executors, progress."""
