using BenchmarkDotNet.Running;

namespace Tollgate.MicroBench;

/// <summary>
/// Micro-benchmarks of the gateway's hot code, one class per path; results in bench/README.md.
/// <c>dotnet run -c Release --project bench/Tollgate.MicroBench -- --filter '*' --job short</c>
/// </summary>
internal static class Program
{
    // Named so: the server's own top-level Program is visible here too (InternalsVisibleTo).
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
