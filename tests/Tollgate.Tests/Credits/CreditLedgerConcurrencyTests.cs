using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Credits;

public sealed class CreditLedgerConcurrencyTests
{
    private static readonly long Cent = Money.ToNanos(0.01m);

    [Fact]
    public async Task Reserve_FiftyConcurrentCentsOnFiveCents_AdmitsExactlyFive()
    {
        var ct = TestContext.Current.CancellationToken;
        using var factory = new TollgateFactory();
        var account = await factory.CreateAccountAsync();
        var (key, _) = await factory.CreateKeyAsync(account.Id);
        var ledger = factory.Service<CreditLedger>();
        await ledger.GrantAsync(account.Id, -Money.ToNanos(0.95m), "test", null, "the $1.00 signup grant, down to $0.05", ct);

        var outcomes = await ReserveConcurrentlyAsync(ledger, key, Cent, count: 50, ct);

        var admitted = outcomes.OfType<Reservation>().ToArray();
        var refused = outcomes.OfType<ApiException>().ToArray();
        Assert.Equal(5, admitted.Length);
        Assert.Equal(45, refused.Length);
        Assert.All(refused, e =>
        {
            Assert.Equal(402, e.StatusCode);
            Assert.Equal("account_credits", e.Metadata["limit_source"]);
        });
        Assert.Equal(5 * Cent, ledger.ReservedFor(account.Id));

        // Each call cost less than it reserved.
        var cost = Money.ToNanos(0.008m);
        await Task.WhenAll(admitted.Select(reservation => ledger.SettleAsync(reservation, Usage(reservation, cost))));

        var credits = await factory.Service<IBillingStore>().GetCreditsAsync(account.Id, ct);
        Assert.Equal(Cent, credits.BalanceNanos);
        Assert.Equal(Cent, factory.Scalar("SELECT SUM(amount_nanos) FROM ledger WHERE account_id = @a", ("@a", account.Id)));
        Assert.Equal(0, ledger.ReservedFor(account.Id));
        var refusedAbove = await Assert.ThrowsAsync<ApiException>(() => ledger.ReserveAsync(key, Money.ToNanos(0.011m), Describe, ct));
        Assert.Equal(402, refusedAbove.StatusCode);
        Assert.Equal("account_credits", refusedAbove.Metadata["limit_source"]);
        Assert.Equal(0.01m, refusedAbove.Metadata["current_balance"]);
        var last = await ledger.ReserveAsync(key, Cent, Describe, ct);
        ledger.Release(last);
    }

    [Fact]
    public async Task Reserve_ConcurrentBeyondTheKeysLimit_RefusesWithKeyLimit()
    {
        var ct = TestContext.Current.CancellationToken;
        using var factory = new TollgateFactory();
        var account = await factory.CreateAccountAsync();
        var (limited, _) = await factory.CreateKeyAsync(account.Id, """{"name":"limited","limit":0.02}""");
        var (unlimited, _) = await factory.CreateKeyAsync(account.Id, """{"name":"unlimited"}""");
        var ledger = factory.Service<CreditLedger>();
        var halfCent = Money.ToNanos(0.005m);

        var outcomes = await ReserveConcurrentlyAsync(ledger, limited, halfCent, count: 10, ct);

        var admitted = outcomes.OfType<Reservation>().ToArray();
        var refused = outcomes.OfType<ApiException>().ToArray();
        Assert.Equal(4, admitted.Length);
        Assert.Equal(6, refused.Length);
        Assert.All(refused, e =>
        {
            Assert.Equal(402, e.StatusCode);
            Assert.Equal("key_limit", e.Metadata["limit_source"]);
        });

        // Spent, the limit stays used up; the account's other keys still draw on its $1.00.
        await Task.WhenAll(admitted.Select(reservation => ledger.SettleAsync(reservation, Usage(reservation, halfCent))));
        var spent = await Assert.ThrowsAsync<ApiException>(() => ledger.ReserveAsync(limited, Money.ToNanos(0.001m), Describe, ct));
        Assert.Equal("key_limit", spent.Metadata["limit_source"]);
        Assert.Equal(0m, spent.Metadata["current_balance"]);
        ledger.Release(await ledger.ReserveAsync(unlimited, Money.ToNanos(0.5m), Describe, ct));
        Assert.Equal(Money.ToNanos(0.98m), (await factory.Service<IBillingStore>().GetCreditsAsync(account.Id, ct)).BalanceNanos);
    }

    [Fact]
    public async Task Reserve_BalanceReReadRacingAGrant_NeverAdmitsMoreThanTheAccountHolds()
    {
        var ct = TestContext.Current.CancellationToken;
        GatedBillingStore? gated = null;
        await using var rig = new BillingRig(store => gated = new GatedBillingStore(store));
        await rig.StartAsync();
        var ledger = rig.NewLedger(TimeProvider.System);
        var accountId = await rig.CreateAccountAsync();
        var key = Key(accountId, limitNanos: null);
        await ledger.GrantAsync(accountId, 5 * Cent, "test", null, null, ct);

        // A grant (say from the dashboard) has committed; the ledger has not yet added it to its balance.
        var gate = gated!.HoldAfterNextAddCredits();
        var grant = ledger.GrantAsync(accountId, 2 * Cent, "test", null, null, ct);
        var admitted = new List<Reservation>();
        try
        {
            await gate.Reached.WaitAsync(ct);
            admitted.AddRange(await TryReserveAsync(ledger, key, 6 * Cent, ct)); // $0.05 in memory: re-reads storage ($0.07)
        }
        finally
        {
            gate.Open();
        }

        await grant;
        admitted.AddRange(await TryReserveAsync(ledger, key, 3 * Cent, ct));

        // $0.07 held: $0.06 and $0.03 cannot both be admitted.
        Assert.True(admitted.Sum(r => r.AmountNanos) <= 7 * Cent, $"Admitted {string.Join(" + ", admitted.Select(r => Money.Format(r.AmountNanos)))}");
        admitted.ForEach(ledger.Release);
    }

    [Fact]
    public async Task Reserve_KeySpendReReadRacingASettlement_CountsTheChargeOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        GatedBillingStore? gated = null;
        await using var rig = new BillingRig(store => gated = new GatedBillingStore(store));
        await rig.StartAsync();
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 6, 11, 23, 30, 0, TimeSpan.Zero));
        var ledger = rig.NewLedger(time);
        var accountId = await rig.CreateAccountAsync();
        var key = Key(accountId, limitNanos: 3 * Cent);
        await ledger.GrantAsync(accountId, 100 * Cent, "test", null, null, ct);
        var before = await ledger.ReserveAsync(key, Cent, Describe, ct);

        // Past midnight the key's spend is read again, here while the settlement of a call from before is in the
        // ledger's memory (it was journaled) and being committed, but held before the commit is acknowledged.
        time.Advance(TimeSpan.FromHours(1));
        var gate = gated!.HoldAfterNextWriteUsage();
        await ledger.SettleAsync(before, Usage(before, Cent, time.GetUtcNow())); // journaled: returns before the commit
        Task<Reservation> reread;
        try
        {
            await gate.Reached.WaitAsync(ct);
            reread = ledger.ReserveAsync(key, Cent / 2, Describe, ct);

            // The re-read waits for what is on its way to the database rather than read around it.
            await Task.Delay(100, ct);
            Assert.False(reread.IsCompleted, "the spend was read while a charge was still being committed");
        }
        finally
        {
            gate.Open();
        }

        ledger.Release(await reread.WaitAsync(ct));

        // $0.01 of the key's $0.03 is spent: $0.02 is still allowed.
        ledger.Release(await ledger.ReserveAsync(key, 2 * Cent, Describe, ct));
    }

    private static async Task<object[]> ReserveConcurrentlyAsync(CreditLedger ledger, ApiKey key, long amount, int count, CancellationToken ct)
    {
        using var start = new SemaphoreSlim(0);
        var calls = Enumerable.Range(0, count).Select(_ => Task.Run(async () =>
        {
            await start.WaitAsync(ct);
            try
            {
                return (object)await ledger.ReserveAsync(key, amount, Describe, ct);
            }
            catch (ApiException refused)
            {
                return refused;
            }
        }, ct)).ToArray();
        start.Release(count);
        return await Task.WhenAll(calls);
    }

    private static async Task<Reservation[]> TryReserveAsync(CreditLedger ledger, ApiKey key, long amount, CancellationToken ct)
    {
        try
        {
            return [await ledger.ReserveAsync(key, amount, Describe, ct)];
        }
        catch (ApiException refused) when (refused.StatusCode == 402)
        {
            return [];
        }
    }

    private static string Describe(LimitSource source, long availableNanos) => $"{source}: {Money.Format(availableNanos)} left";

    private static ApiKey Key(string accountId, long? limitNanos) => new()
    {
        Id = $"key-{Guid.NewGuid():N}",
        AccountId = accountId,
        Name = "test",
        Label = "sk-tg-v1-test",
        Scopes = default,
        LimitNanos = limitNanos,
        CreatedAt = DateTimeOffset.UnixEpoch,
    };

    private static UsageRecord Usage(Reservation reservation, long cost, DateTimeOffset? at = null) => new()
    {
        GenerationId = $"gen-{Guid.NewGuid():N}",
        AccountId = reservation.AccountId,
        KeyId = reservation.KeyId,
        Model = "test/model",
        CostNanos = cost,
        Status = 200,
        CreatedAt = at ?? DateTimeOffset.UtcNow,
    };
}

/// <summary>
/// The real store, able to hold one call after it has committed — to open the window between storage
/// and the ledger's memory that a concurrent request can land in.
/// </summary>
internal sealed class GatedBillingStore(IBillingStore inner) : IBillingStore
{
    private Gate? _afterAddCredits;
    private Gate? _afterWriteUsage;

    public Gate HoldAfterNextAddCredits() => _afterAddCredits = new Gate();

    public Gate HoldAfterNextWriteUsage() => _afterWriteUsage = new Gate();

    public Task<AccountCredits> GetCreditsAsync(string accountId, CancellationToken cancellationToken) =>
        inner.GetCreditsAsync(accountId, cancellationToken);

    public async Task<AccountCredits> AddCreditsAsync(string accountId, string kind, long amountNanos, string actor, string? reference,
        string? note, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var credits = await inner.AddCreditsAsync(accountId, kind, amountNanos, actor, reference, note, at, cancellationToken);
        await PassAsync(ref _afterAddCredits);
        return credits;
    }

    public async Task WriteUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        await inner.WriteUsageAsync(records, cancellationToken);
        await PassAsync(ref _afterWriteUsage);
    }

    public Task<KeySpend> GetKeySpendAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.GetKeySpendAsync(keyId, now, cancellationToken);

    public Task<long> GetNewestOutsideEntryAsync(string accountId, CancellationToken cancellationToken) =>
        inner.GetNewestOutsideEntryAsync(accountId, cancellationToken);

    public Task<IReadOnlyList<LedgerEntry>> ListLedgerAsync(string accountId, LedgerFilter filter, long? beforeId, int limit,
        CancellationToken cancellationToken) =>
        inner.ListLedgerAsync(accountId, filter, beforeId, limit, cancellationToken);

    private static Task PassAsync(ref Gate? gate) => Interlocked.Exchange(ref gate, null) is { } held ? held.PassAsync() : Task.CompletedTask;

    internal sealed class Gate
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes once the held call has committed and is waiting.</summary>
        public Task Reached => _reached.Task;

        public void Open() => _open.TrySetResult();

        internal Task PassAsync()
        {
            _reached.TrySetResult();
            return _open.Task;
        }
    }
}
