// Package runtime runs Python model code: it builds per-model environments
// with uv, starts one isolated worker process per step, and hands data to
// and from it as Arrow IPC files in shared memory.
//
// # Basics
//
// An environment is identified by a content hash of (interpreter version,
// sorted pinned packages, SDK version) and built once under
// TARN_HOME/envs/<hash>; later runs and other projects reuse it. A worker is
// `ENV/bin/python -m tarn._worker SPEC.json` with a scrubbed environment,
// its own scratch directory, a timeout, a memory limit and — unless the
// model asks for the internet — no network, using the strongest mechanism
// the host offers (bubblewrap, then unshare, then rlimits only).
//
// A Pool keeps warm workers: started ahead of need with pyarrow and tarn
// imported, each serves one step handed to it on stdin, exactly as a cold
// worker would run it; RunWorker uses one when WorkerOptions.Pool holds a
// match and starts cold otherwise.
//
// # Caveats
//
// uv must be installed (scripts/setup.sh installs it). Interpreters are not
// downloaded: a version that is not on the machine is an error listing the
// ones that are.
package runtime
