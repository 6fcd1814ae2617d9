// Package benchkit is what every benchmark command under bench/ shares:
// its main (flags, a context canceled by Ctrl-C, errors turned into exit
// codes in one place), progress lines on stderr, a work directory removed at
// the end, the report as text or JSON on stdout, the statistics the figures
// use (Median, Percentile, Ms), the tarn binary to time, and the machine's
// description.
//
// # Basics
//
// A benchmark's main registers its own flags beside -json and -keep and
// hands its work to Main:
//
//	var kit = benchkit.New("env")
//
//	func main() {
//		reps := kit.Flags.Int("reps", 3, "timed builds per variant")
//		kit.Main(func(ctx context.Context) error {
//			dir, err := kit.WorkDir("") // removed when Main returns, unless -keep
//			if err != nil {
//				return err
//			}
//			kit.Logf("building in %s", dir) // "[env 15:04:05] building in ..."
//			rep := measure(ctx, dir, *reps)
//			return kit.Report(rep, rep.print) // JSON with -json, else rep.print(stdout)
//		})
//	}
//
// Exit codes: 0 done (and for -help), ExitFailure when the benchmark returns
// an error (printed as "NAME: error"), ExitUsage for bad flags, stray
// arguments or an error made with Usagef, ExitInterrupted after SIGINT or
// SIGTERM. A second signal kills the process at once.
//
// # Caveats
//
// The context is the only way a benchmark learns of Ctrl-C: commands it
// starts should use exec.CommandContext, and long loops should check it.
// Median and Percentile return 0 for no samples, so that a report stays
// valid JSON; a figure with no samples is the caller's to leave out.
package benchkit
