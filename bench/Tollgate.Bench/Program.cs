using System.CommandLine;
using Tollgate.Bench.Billing;
using Tollgate.Bench.Compare;
using Tollgate.Bench.Soak;

// Tollgate's benchmark program (bench/README.md):
//   compare (the default)  Tollgate against direct calls, nginx and Portkey, interleaved, in one run
//   soak --minutes 10      Tollgate under steady load, memory sampled every 30 s
//   billing [seconds]      what reserve + settle add to a request, in-process
// bench/run.sh installs the tools, builds in Release and runs this.
var root = new RootCommand("Tollgate's benchmarks. Run through bench/run.sh, which installs nginx, wrk and Portkey and builds in Release.")
{
    CompareCommand.Create(),
    SoakCommand.Create(),
    BillingBenchmark.Command(),
};

// No command, or only options: compare.
string[] helpWords = ["-h", "-?", "--help", "--version"];
if (args.Length == 0 || args[0].StartsWith('-') && !helpWords.Contains(args[0]))
{
    args = ["compare", .. args];
}

return await root.Parse(args).InvokeAsync();
