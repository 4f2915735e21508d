using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.Credits;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

/// <summary>
/// The usage journal: records are acknowledged once appended, reach the database in batches,
/// are replayed after a crash exactly once, and reads never run ahead of them.
/// </summary>
public sealed class UsageJournalTests : IAsyncLifetime
{
    private TempBillingDatabase _temp = null!;

    private SqliteDatabase Database => _temp.Database;

    private string Folder => _temp.Folder;

    private string Prefix => Path.Combine(Folder, "tollgate.db.usage");

    public async ValueTask InitializeAsync() => _temp = await TempBillingDatabase.CreateAsync("acc_j");

    public ValueTask DisposeAsync()
    {
        _temp.Dispose();
        return ValueTask.CompletedTask;
    }

    private static UsageRecord Record(int n, long cost = 1_000) => new()
    {
        GenerationId = $"gen-journal-{n}",
        AccountId = "acc_j",
        KeyId = "key_j",
        Model = "fake/j",
        Provider = "fake",
        PromptTokens = 3,
        CompletionTokens = n,
        CostNanos = cost,
        Status = 200,
        HttpReferer = "https://app.example/ü",
        CreatedAt = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero).AddSeconds(n),
    };

    private (BillingWriter Writer, SqliteBillingStore Store, SqliteUsageStore Usage) NewWriter(CreditsOptions? settings = null)
    {
        var options = Options.Create(settings ?? new CreditsOptions());
        var pending = new PendingUsage();
        var store = new SqliteBillingStore(Database, options, pending);
        var writer = new BillingWriter(store, options, NullLogger<BillingWriter>.Instance, new UsageJournal(Prefix), pending);
        return (writer, store, new SqliteUsageStore(Database, pending));
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = await Database.OpenAsync(CancellationToken.None);
        using var command = connection.Command(sql);
        return (long)(await command.ExecuteScalarAsync(CancellationToken.None))!;
    }

    private string[] Segments() => Directory.GetFiles(Folder, "tollgate.db.usage.*.journal");

    [Fact]
    public async Task Write_IsInTheJournalWhenItReturns_AndInTheDatabaseForTheNextRead()
    {
        var (writer, store, usage) = NewWriter();
        await writer.StartAsync(CancellationToken.None);
        Assert.True(writer.Journaled);

        await writer.WriteAsync(Record(1));
        var segment = Assert.Single(Segments());
        Assert.Contains("gen-journal-1", await File.ReadAllTextAsync(segment, TestContext.Current.CancellationToken), StringComparison.Ordinal);

        // Reads wait for what is pending: the record and its charge are visible at once.
        var found = await usage.FindGenerationAsync("acc_j", "gen-journal-1", CancellationToken.None);
        Assert.NotNull(found);
        Assert.Equal("https://app.example/ü", found.HttpReferer);
        Assert.Equal(-1_000, (await store.GetCreditsAsync("acc_j", CancellationToken.None)).BalanceNanos);

        // A clean stop leaves nothing to replay.
        await writer.StopAsync(CancellationToken.None);
        Assert.Empty(Segments());
    }

    [Fact]
    public async Task Restart_ReplaysWhatACrashLeftInTheJournal_ExactlyOnce()
    {
        // A "crashed" run: records appended to the journal, some committed, the process gone before the rest.
        var crashed = new UsageJournal(Prefix);
        crashed.Open();
        for (var n = 1; n <= 5; n++)
        {
            crashed.Append(UsageJournal.Serialize(Record(n)), _ => { });
        }

        crashed.Dispose();
        await File.AppendAllTextAsync(crashed.PathOf(1), "{\"GenerationId\":\"gen-torn", TestContext.Current.CancellationToken); // a torn last line
        var (committed, _, _) = NewWriter(new CreditsOptions { FsyncEachCommit = true }); // no journal: commits directly
        await committed.StartAsync(CancellationToken.None); // replays (and deletes) the segment: records 1–5
        await committed.WriteAsync(Record(6));
        await committed.StopAsync(CancellationToken.None);
        Assert.Empty(Segments());

        // Replaying the same records again (a crash after the commit, before the segment was deleted) charges nothing twice.
        var again = new UsageJournal(Prefix);
        again.Open();
        for (var n = 1; n <= 6; n++)
        {
            again.Append(UsageJournal.Serialize(Record(n)), _ => { });
        }

        again.Dispose();
        var (writer, store, _) = NewWriter();
        await writer.StartAsync(CancellationToken.None);
        Assert.Equal(6, await ScalarAsync("SELECT COUNT(*) FROM usage_records"));
        Assert.Equal(6, await ScalarAsync("SELECT COUNT(*) FROM ledger WHERE kind = 'charge'"));
        Assert.Equal(-6_000, (await store.GetCreditsAsync("acc_j", CancellationToken.None)).BalanceNanos);
        Assert.Equal(await ScalarAsync("SELECT SUM(amount_nanos) FROM ledger"), await ScalarAsync("SELECT balance_nanos FROM balances"));
        await writer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task ManyConcurrentWriters_AreCommittedInBatches_AndFinishedSegmentsAreDeleted()
    {
        var (writer, store, _) = NewWriter(new CreditsOptions { MaxBatch = 64 });
        await writer.StartAsync(CancellationToken.None);
        const int count = 2_000;
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (n, _) => await writer.WriteAsync(Record(n, cost: 10)));

        Assert.Equal(-10L * count, (await store.GetCreditsAsync("acc_j", CancellationToken.None)).BalanceNanos);
        Assert.Equal(count, await ScalarAsync("SELECT COUNT(*) FROM usage_records"));
        Assert.True(writer.Commits < count, $"{writer.Commits} commits for {count} records: no batching");
        await writer.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void Journal_StartsANewSegmentWhenFull_AndReleasesOnlyFinishedOnes()
    {
        using var journal = new UsageJournal(Prefix);
        journal.Open();
        var line = new byte[1024 * 1024];
        line.AsSpan().Fill((byte)' ');
        line[^1] = (byte)'\n';
        var segments = Enumerable.Range(0, 20).Select(_ => journal.Append(line, _ => { })).ToArray();
        Assert.Equal(1, segments[0]);
        Assert.Equal(3, segments[^1]); // 8 MB each: 1 MB lines fill segment 1 with 8, segment 2 with 8, the rest in 3
        Assert.Equal(3, Segments().Length);

        journal.ReleaseBefore(3);
        Assert.Equal([journal.PathOf(3)], Segments());
    }

    [Fact]
    public async Task ASecondServerOnTheSameDatabase_IsRefused_RatherThanReplayingTheFirstOnesJournal()
    {
        var (first, _, _) = NewWriter();
        await first.StartAsync(CancellationToken.None);
        await first.WriteAsync(Record(1));

        var (second, _, _) = NewWriter();
        var refused = await Assert.ThrowsAsync<IOException>(() => second.StartAsync(CancellationToken.None));
        Assert.Contains("Another Tollgate server is running on the same database", refused.Message, StringComparison.Ordinal);
        Assert.Single(Segments()); // the first server's journal is untouched

        await first.StopAsync(CancellationToken.None);
        var (third, _, _) = NewWriter(); // once the first has stopped, the journal is free
        await third.StartAsync(CancellationToken.None);
        await third.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AFailedDatabaseWrite_IsRetried_AndTheRecordIsNotLost()
    {
        var options = Options.Create(new CreditsOptions());
        var pending = new PendingUsage();
        var store = new FlakyStore(new SqliteBillingStore(Database, options, pending), failures: 2);
        var writer = new BillingWriter(store, options, NullLogger<BillingWriter>.Instance, new UsageJournal(Prefix), pending);
        await writer.StartAsync(CancellationToken.None);

        await writer.WriteAsync(Record(1)); // acknowledged: the journal has it
        await writer.FlushAsync(TestContext.Current.CancellationToken); // after two failed commits and their back-off
        Assert.Equal(3, store.Attempts);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM usage_records"));
        await writer.StopAsync(CancellationToken.None);
    }

    private sealed class FlakyStore(IBillingStore inner, int failures) : IBillingStore
    {
        public int Attempts;

        public Task WriteUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken) =>
            ++Attempts <= failures ? throw new SqliteException("disk I/O error", 10) : inner.WriteUsageAsync(records, cancellationToken);

        public Task<AccountCredits> GetCreditsAsync(string accountId, CancellationToken cancellationToken) => inner.GetCreditsAsync(accountId, cancellationToken);

        public Task<AccountCredits> AddCreditsAsync(string accountId, string kind, long amountNanos, string actor, string? reference, string? note,
            DateTimeOffset at, CancellationToken cancellationToken) =>
            inner.AddCreditsAsync(accountId, kind, amountNanos, actor, reference, note, at, cancellationToken);

        public Task<KeySpend> GetKeySpendAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken) =>
            inner.GetKeySpendAsync(keyId, now, cancellationToken);

        public Task<long> GetNewestOutsideEntryAsync(string accountId, CancellationToken cancellationToken) =>
            inner.GetNewestOutsideEntryAsync(accountId, cancellationToken);

        public Task<IReadOnlyList<LedgerEntry>> ListLedgerAsync(string accountId, LedgerFilter filter, long? beforeId, int limit,
            CancellationToken cancellationToken) =>
            inner.ListLedgerAsync(accountId, filter, beforeId, limit, cancellationToken);
    }
}
