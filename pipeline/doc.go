// Package pipeline discovers a project (tarn_project.yml, Python models
// found by static parsing, .sql models), plans its DAG against a ref, and
// runs it: every step in its own worker (package runtime), outputs
// materialized on a run branch, expectations checked, then merged into the
// target branch all at once — or not at all.
//
// # Basics
//
// Discovery never imports user code: Python files are parsed with Python's
// ast module (tarn._discover), so a syntax error or a missing package is
// reported with file and line before anything runs. Discovery runs in the
// run's sandbox (Discoverer.Sandbox) with a scrubbed environment, 1 GiB
// and 60 s, and parses no Python file over 4 MiB. Inputs name other
// models or lake tables at the run's ref; the DAG follows from them.
//
// # Caveats
//
// SQL models run in a worker with DuckDB's Python package over Arrow
// inputs; their lake-table inputs are found by scanning the SQL for names
// after FROM and JOIN (CTE names excluded).
package pipeline
