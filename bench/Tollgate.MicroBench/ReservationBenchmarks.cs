using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Storage;

namespace Tollgate.MicroBench;

/// <summary>
/// Credits around a request: <see cref="CreditLedger.ReserveAsync"/> + <see cref="CreditLedger.Release"/> in
/// memory (the account's balance and the key's spend already loaded), for a key without and with its own limit;
/// and <see cref="ReserveSettleDurableSqlite"/>, which settles: a durable write to a real SQLite file (WAL,
/// <c>synchronous=NORMAL</c>) through <see cref="BillingWriter"/>, one request at a time. That one measures
/// the disk and SQLite, not the ledger; <c>bench/Tollgate.Bench</c> measures it under concurrency.
/// </summary>
[MemoryDiagnoser]
public class ReservationBenchmarks
{
    /// <summary>$0.01, about what a short gpt-4o-mini request reserves.</summary>
    private const long MaxCostNanos = 10_000_000;

    private static readonly Func<LimitSource, long, string> Describe = (_, _) => "Insufficient credits";
    private TempDatabase _database = null!;
    private WalCheckpointer _checkpointer = null!;
    private BillingWriter _writer = null!;
    private CreditLedger _ledger = null!;
    private ApiKey _key = null!;
    private ApiKey _limitedKey = null!;
    private long _sequence;

    [GlobalSetup]
    public async Task Setup()
    {
        _database = await TempDatabase.CreateAsync();
        _checkpointer = new WalCheckpointer(_database.Database, TimeProvider.System, NullLogger<WalCheckpointer>.Instance);
        await _checkpointer.StartAsync(CancellationToken.None);
        var options = Options.Create(new CreditsOptions());
        var store = new SqliteBillingStore(_database.Database, options);
        _writer = new BillingWriter(store, options, NullLogger<BillingWriter>.Instance);
        await _writer.StartAsync(CancellationToken.None);
        _ledger = new CreditLedger(store, _writer, TimeProvider.System);
        await _ledger.GrantAsync(TempDatabase.AccountId, Money.ToNanos(1_000_000m), "bench", null, null, CancellationToken.None);

        _key = new ApiKey { Id = "key_bench", AccountId = TempDatabase.AccountId, Name = "bench", Label = "l", Scopes = ApiKeyScopes.All, CreatedAt = DateTimeOffset.UtcNow };
        _limitedKey = _key with { Id = "key_limited", LimitNanos = Money.ToNanos(1_000m), LimitReset = "monthly" };

        // The first request of an account (and of a limited key) reads storage; the benchmarks measure the ones after it.
        _ledger.Release(await _ledger.ReserveAsync(_key, MaxCostNanos, Describe, CancellationToken.None));
        _ledger.Release(await _ledger.ReserveAsync(_limitedKey, MaxCostNanos, Describe, CancellationToken.None));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _writer.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _checkpointer.StopAsync(CancellationToken.None).GetAwaiter().GetResult();
        _writer.Dispose();
        _checkpointer.Dispose();
        _database.Dispose();
    }

    [Benchmark]
    public async Task ReserveRelease()
    {
        var reservation = await _ledger.ReserveAsync(_key, MaxCostNanos, Describe, CancellationToken.None);
        _ledger.Release(reservation);
    }

    [Benchmark]
    public async Task ReserveReleaseKeyLimit()
    {
        var reservation = await _ledger.ReserveAsync(_limitedKey, MaxCostNanos, Describe, CancellationToken.None);
        _ledger.Release(reservation);
    }

    /// <summary>DURABLE: reserve, then settle a charge and its usage record, committed to SQLite before it returns.</summary>
    [Benchmark]
    public async Task ReserveSettleDurableSqlite()
    {
        var reservation = await _ledger.ReserveAsync(_key, MaxCostNanos, Describe, CancellationToken.None);
        await _ledger.SettleAsync(reservation, new UsageRecord
        {
            GenerationId = "gen-bench-" + ++_sequence,
            AccountId = TempDatabase.AccountId,
            KeyId = _key.Id,
            Model = Inputs.ModelId,
            Provider = Inputs.ProviderName,
            UpstreamModel = Inputs.UpstreamModel,
            PromptTokens = 147,
            CompletionTokens = 64,
            CostNanos = 1_234,
            Streamed = true,
            FinishReason = "stop",
            NativeFinishReason = "stop",
            Status = 200,
            CreatedAt = DateTimeOffset.UtcNow,
        });
    }
}
