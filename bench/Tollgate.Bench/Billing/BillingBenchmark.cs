using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Storage;

namespace Tollgate.Bench.Billing;

/// <summary>
/// What billing adds to a request: reserve + settle (a durable, group-committed charge and usage
/// record) against a real SQLite file, at several concurrencies, measured in one run.
/// </summary>
internal static class BillingBenchmark
{
    public static Command Command()
    {
        var seconds = new Argument<int>("seconds") { Description = "Seconds per concurrency level", DefaultValueFactory = _ => 3 };
        var command = new Command("billing", "What reserve + settle add to a request, in-process against a real SQLite file") { seconds };
        command.SetAction(async (parse, _) =>
        {
            await RunAsync(parse.GetValue(seconds));
            return 0;
        });
        return command;
    }

    private static async Task RunAsync(int seconds)
    {
        var folder = Directory.CreateTempSubdirectory("tollgate-bench-").FullName;
        try
        {
            var database = new SqliteDatabase(Path.Combine(folder, "bench.db"));
            await database.InitializeAsync(CancellationToken.None);
            await using (var connection = await database.OpenAsync(CancellationToken.None))
            {
                await new MigrationRunner("sqlite", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
                using var account = connection.Command(
                    "INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at) VALUES ('acc_bench', 'b@x', 'b@x', 'b', 'owner', 'x', 0)");
                await account.ExecuteNonQueryAsync();
            }

            using var checkpointer = new WalCheckpointer(database, TimeProvider.System, NullLogger<WalCheckpointer>.Instance);
            await checkpointer.StartAsync(CancellationToken.None);
            var options = Options.Create(new CreditsOptions());
            var store = new SqliteBillingStore(database, options);
            var writer = new BillingWriter(store, options, NullLogger<BillingWriter>.Instance);
            await writer.StartAsync(CancellationToken.None);
            var ledger = new CreditLedger(store, writer, TimeProvider.System);
            await ledger.GrantAsync("acc_bench", Money.ToNanos(1_000_000m), "bench", null, null, CancellationToken.None);
            var key = new ApiKey { Id = "key_bench", AccountId = "acc_bench", Name = "bench", Label = "l", Scopes = ApiKeyScopes.All, CreatedAt = DateTimeOffset.UtcNow };

            Console.WriteLine($"Billing: reserve + settle per request, real SQLite (WAL, synchronous=NORMAL), {seconds} s per level, {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores");
            Console.WriteLine();
            Console.WriteLine("| concurrency | requests/s | p50 | p99 | records per commit |");
            Console.WriteLine("|---|---|---|---|---|");
            var sequence = 0L;
            foreach (var concurrency in new[] { 1, 8, 32, 128 })
            {
                var latencies = new List<double>[concurrency];
                var until = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
                var commitsBefore = writer.Commits;
                var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
                {
                    var mine = latencies[w] = new List<double>(100_000);
                    while (Stopwatch.GetTimestamp() < until)
                    {
                        var started = Stopwatch.GetTimestamp();
                        var reservation = await ledger.ReserveAsync(key, 10_000_000, (_, _) => "no", CancellationToken.None);
                        await ledger.SettleAsync(reservation, new UsageRecord
                        {
                            GenerationId = "gen-bench-" + Interlocked.Increment(ref sequence),
                            AccountId = "acc_bench",
                            KeyId = "key_bench",
                            Model = "bench/model",
                            PromptTokens = 20,
                            CompletionTokens = 8,
                            CostNanos = 1_234,
                            Status = 200,
                            CreatedAt = DateTimeOffset.UtcNow,
                        });
                        mine.Add(Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    }
                })).ToArray();
                await Task.WhenAll(workers);
                var all = latencies.SelectMany(l => l).Order().ToArray();
                var requests = all.Length;
                var commits = Math.Max(1, writer.Commits - commitsBefore);
                Console.WriteLine($"| {concurrency} | {requests / (double)seconds:N0} | {all[all.Length / 2]:N0} µs | {all[(int)(all.Length * 0.99)]:N0} µs | {requests / (double)commits:N1} |");
            }

            await writer.StopAsync(CancellationToken.None);
            await checkpointer.StopAsync(CancellationToken.None);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
