using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.Credits;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Storage;

/// <summary>
/// The SQLite log must stay bounded under steady writes: PASSIVE checkpoints alone never let SQLite
/// start the log again while commits keep arriving, and the file (with its shared-memory index) grew
/// to gigabytes in a benchmark.
/// </summary>
public sealed class WalCheckpointerTests : IAsyncLifetime
{
    private TempBillingDatabase _temp = null!;

    private SqliteDatabase Database => _temp.Database;

    private string Folder => _temp.Folder;

    private string WalPath => Database.FilePath + "-wal";

    private long WalLength()
    {
        var file = new FileInfo(WalPath);
        return file.Exists ? file.Length : 0;
    }

    public async ValueTask InitializeAsync() => _temp = await TempBillingDatabase.CreateAsync("acc_w");

    public ValueTask DisposeAsync()
    {
        _temp.Dispose();
        return ValueTask.CompletedTask;
    }

    [Fact]
    public async Task UnderSteadyWrites_TheLogStartsAgainOncePastItsBound()
    {
        var ct = TestContext.Current.CancellationToken;
        var options = Options.Create(new CreditsOptions { MaxBatch = 16 });
        var writer = new BillingWriter(new SqliteBillingStore(Database, options), options, NullLogger<BillingWriter>.Instance,
            new UsageJournal(Path.Combine(Folder, "tollgate.db.usage")));
        await writer.StartAsync(ct);
        var checkpointer = new WalCheckpointer(Database, TimeProvider.System, NullLogger<WalCheckpointer>.Instance, truncateAbovePages: 64);

        // Commits keep arriving while checkpoints run, as under load.
        using var stop = new CancellationTokenSource();
        var written = 0;
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref written);
                await writer.WriteAsync(new UsageRecord
                {
                    GenerationId = $"gen-wal-{n}", AccountId = "acc_w", KeyId = "key_w", Model = "m", CostNanos = 1, Status = 200,
                    HttpReferer = new string('r', 200), CreatedAt = DateTimeOffset.UtcNow,
                });
                if (n % 64 == 0)
                {
                    await writer.FlushAsync(CancellationToken.None); // no further ahead of the database than a busy server gets
                }
            }
        }, ct);

        long largest = 0;
        for (var round = 0; round < 20; round++)
        {
            await Task.Delay(50, ct);
            await checkpointer.CheckpointAsync(ct);
            largest = Math.Max(largest, WalLength()); // SQLite removes the file when the last connection closes
        }

        await stop.CancelAsync();
        await load;
        await writer.FlushAsync(ct);
        var before = await checkpointer.CheckpointAsync(ct);

        // The next commit starts the log from its beginning: a handful of pages, however much was written before.
        await writer.WriteAsync(new UsageRecord { GenerationId = "gen-wal-last", AccountId = "acc_w", KeyId = "key_w", Model = "m", Status = 200, CreatedAt = DateTimeOffset.UtcNow });
        await writer.FlushAsync(ct);
        var after = await checkpointer.CheckpointAsync(ct);

        Assert.True(written > 2_000, $"only {written} records: not enough load to matter");
        Assert.True(checkpointer.Restarts > 0, "the log went past its bound and was never started again");
        Assert.True(after < 64, $"{after} pages in the log after a restart ({before} before it)");
        Assert.True(largest < 64 * 1024 * 1024, $"the log reached {largest / 1024 / 1024} MB");
        await writer.StopAsync(ct);
    }

    [Fact]
    public async Task UnderItsBound_TheLogIsOnlyCheckpointedPassively()
    {
        var ct = TestContext.Current.CancellationToken;
        var checkpointer = new WalCheckpointer(Database, TimeProvider.System, NullLogger<WalCheckpointer>.Instance);
        await using (var connection = await Database.OpenAsync(ct))
        {
            using var insert = connection.Command("UPDATE accounts SET display_name = 'x' WHERE id = 'acc_w'");
            await insert.ExecuteNonQueryAsync(ct);
        }

        Assert.InRange(await checkpointer.CheckpointAsync(ct), 1, WalCheckpointer.DefaultTruncateAbovePages);
        Assert.Equal(0, checkpointer.Restarts);
    }
}
