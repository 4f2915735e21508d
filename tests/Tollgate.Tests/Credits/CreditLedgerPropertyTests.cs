using System.Collections.Concurrent;
using CsCheck;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Storage;

namespace Tollgate.Tests.Credits;

/// <summary>
/// CsCheck drives random sequences (and random concurrent interleavings) of grants, reservations,
/// settlements, cancellations, releases and misuse against the real ledger, group-commit writer and
/// SQLite store, and checks the ledger's invariants against a model after every step.
/// </summary>
/// <remarks>
/// A charge may exceed its reservation (usage was underestimated). The ledger then records the real
/// cost, in full: the balance may go below zero, but only by what was charged beyond reservations.
/// The invariant is <c>balance − reserved ≥ −Σ max(0, cost − reservation)</c>, which is
/// "<c>balance − reserved ≥ 0</c>, so the balance never goes below zero" when no charge overruns.
/// </remarks>
public sealed class CreditLedgerPropertyTests : IAsyncLifetime
{
    private readonly BillingRig _rig = new();

    public ValueTask InitializeAsync() => _rig.StartAsync();

    public ValueTask DisposeAsync() => _rig.DisposeAsync();

    [Fact]
    public async Task Ledger_RandomSequencesWithinReservations_MatchesModelAndNeverGoesNegative()
    {
        await Check.SampleAsync(Scenarios.Sequential(overruns: false), scenario => RunSequentialAsync(scenario, _rig),
            iter: 150, threads: 4, print: Scenarios.Print);
    }

    [Fact]
    public async Task Ledger_RandomSequencesWithOverruns_ChargesRealCostAndOverspendsOnlyByTheOverruns()
    {
        await Check.SampleAsync(Scenarios.Sequential(overruns: true), scenario => RunSequentialAsync(scenario, _rig),
            iter: 150, threads: 4, print: Scenarios.Print);
    }

    [Fact]
    public async Task Ledger_RandomConcurrentInterleavings_NeverSpendsMoreThanHeldAndEndsConsistent()
    {
        await Check.SampleAsync(Scenarios.Concurrent(grants: false), scenario => RunConcurrentAsync(scenario, _rig),
            iter: 100, threads: 2, print: Scenarios.Print);
    }

    [Fact]
    public async Task Ledger_RandomConcurrentInterleavingsWithGrants_NeverSpendsMoreThanHeldAndEndsConsistent()
    {
        await Check.SampleAsync(Scenarios.Concurrent(grants: true), scenario => RunConcurrentAsync(scenario, _rig),
            iter: 100, threads: 2, print: Scenarios.Print);
    }

    private static async Task RunSequentialAsync(Scenario scenario, BillingRig rig)
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(scenario.Start);
        var ledger = rig.NewLedger(time);
        var model = new Model(scenario, await rig.CreateAccountAsync());
        await ledger.GrantAsync(model.AccountId, scenario.InitialGrant, "test", null, null, ct);
        model.Balance += scenario.InitialGrant;
        await model.CheckAsync(ledger, rig, "after the initial grant");

        for (var i = 0; i < scenario.Ops.Length; i++)
        {
            var op = scenario.Ops[i];
            await ApplyAsync(op, ledger, model, time, ct);
            await model.CheckAsync(ledger, rig, $"after step {i}: {op}");
        }

        // Cleanup: every open reservation is released; nothing stays reserved.
        foreach (var open in model.Open.ToArray())
        {
            ledger.Release(open.Reservation);
            model.Close(open, cost: null);
        }

        await model.CheckAsync(ledger, rig, "after releasing the rest");
    }

    private static async Task ApplyAsync(Op op, CreditLedger ledger, Model model, FakeTimeProvider time, CancellationToken ct)
    {
        switch (op.Step)
        {
            case Step.Grant:
                await ledger.GrantAsync(model.AccountId, op.Amount, "test", null, null, ct);
                model.Balance += op.Amount;
                break;

            case Step.Reserve:
                await ReserveAsync(op, ledger, model, time, ct);
                break;

            case Step.ReserveEdge:
            {
                // Exactly what the account (or key) can still afford, one nano less, or one more: the boundary of admission.
                var key = model.Keys[op.Key];
                var available = Math.Min(model.Balance - model.Reserved, model.KeyAvailable(key, time.GetUtcNow()));
                await ReserveAsync(op with { Amount = Math.Max(1, available + op.Pick % 3 - 1) }, ledger, model, time, ct);
                break;
            }

            case Step.Settle or Step.Cancel when model.Open.Count > 0:
            {
                var open = model.Open[op.Pick % model.Open.Count];
                var cost = op.Cost(open.Amount);
                await ledger.SettleAsync(open.Reservation, Usage(open, cost, op.Step == Step.Cancel, time));
                model.Close(open, cost, time.GetUtcNow());
                break;
            }

            case Step.Release when model.Open.Count > 0:
            {
                var open = model.Open[op.Pick % model.Open.Count];
                ledger.Release(open.Reservation);
                model.Close(open, cost: null);
                break;
            }

            case Step.SettleAgain when model.Closed.Count > 0:
            {
                // Settled or released already: throws, and neither the ledger nor the reservations change (checked next).
                var closed = model.Closed[op.Pick % model.Closed.Count];
                await Assert.ThrowsAsync<InvalidOperationException>(
                    () => ledger.SettleAsync(closed.Reservation, Usage(closed, op.Cost(closed.Amount), cancelled: false, time)));
                break;
            }

            case Step.ReleaseAgain when model.Closed.Count > 0:
                ledger.Release(model.Closed[op.Pick % model.Closed.Count].Reservation);
                break;

            case Step.Advance:
                time.Advance(TimeSpan.FromHours(op.Amount));
                break;
        }
    }

    private static async Task ReserveAsync(Op op, CreditLedger ledger, Model model, FakeTimeProvider time, CancellationToken ct)
    {
        var key = model.Keys[op.Key];
        var accountAvailable = model.Balance - model.Reserved;
        var keyAvailable = model.KeyAvailable(key, time.GetUtcNow());
        LimitSource? expected = accountAvailable < op.Amount ? LimitSource.AccountCredits
            : keyAvailable < op.Amount ? LimitSource.KeyLimit
            : null;

        (LimitSource Source, long Available)? described = null;
        try
        {
            var reservation = await ledger.ReserveAsync(key, op.Amount, (source, available) =>
            {
                described = (source, available);
                return "refused";
            }, ct);

            // (e) admitted only when the account, and the key's own limit, covered it at that moment.
            Assert.True(expected is null,
                $"Admitted {op.Amount} on {key.Name} with account available {accountAvailable} and key available {keyAvailable}");
            Assert.Equal(op.Amount, reservation.AmountNanos);
            model.Open.Add(new Held(reservation, key, op.Amount, Ids.New("gen")));
        }
        catch (ApiException refused)
        {
            Assert.True(expected is not null,
                $"Refused {op.Amount} on {key.Name} with account available {accountAvailable} and key available {keyAvailable}");
            Assert.Equal(402, refused.StatusCode);
            Assert.Equal(expected == LimitSource.KeyLimit ? "key_limit" : "account_credits", refused.Metadata["limit_source"]);
            var available = Math.Max(0, expected == LimitSource.KeyLimit ? keyAvailable : accountAvailable);
            Assert.Equal((expected, available), (described?.Source, described?.Available));
            Assert.Equal(Money.ToUsd(available), refused.Metadata["current_balance"]);
        }
    }

    private static async Task RunConcurrentAsync(Scenario scenario, BillingRig rig)
    {
        var ct = TestContext.Current.CancellationToken;
        var time = new FakeTimeProvider(scenario.Start);
        var ledger = rig.NewLedger(time);
        var model = new Model(scenario, await rig.CreateAccountAsync());
        await ledger.GrantAsync(model.AccountId, scenario.InitialGrant, "test", null, null, ct);

        var granted = scenario.InitialGrant;
        var settled = new ConcurrentDictionary<string, (Held Held, long Cost)>();
        var released = new ConcurrentDictionary<string, Held>();
        using var start = new SemaphoreSlim(0);

        async Task ClientAsync(Op[] flows)
        {
            await start.WaitAsync(ct);
            foreach (var op in flows)
            {
                if (op.Step == Step.Grant)
                {
                    await ledger.GrantAsync(model.AccountId, op.Amount, "test", null, null, ct);
                    Interlocked.Add(ref granted, op.Amount);
                    continue;
                }

                var key = model.Keys[op.Key];
                Reservation reservation;
                try
                {
                    reservation = await ledger.ReserveAsync(key, op.Amount, (_, _) => "refused", ct);
                }
                catch (ApiException refused) when (refused.StatusCode == 402)
                {
                    continue;
                }

                var held = new Held(reservation, key, op.Amount, Ids.New("gen"));
                if (op.Pick % 2 == 0)
                {
                    await Task.Yield(); // let other clients reserve while this one holds credits
                }

                if (op.Step == Step.Release)
                {
                    ledger.Release(reservation);
                    released[held.GenerationId] = held;
                }
                else
                {
                    var cost = op.Cost(op.Amount);
                    await ledger.SettleAsync(reservation, Usage(held, cost, op.Step == Step.Cancel, time));
                    settled[held.GenerationId] = (held, cost);
                }

                if (op.Pick % 3 == 0)
                {
                    await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.SettleAsync(reservation, Usage(held, 1, false, time)));
                    ledger.Release(reservation);
                }
            }
        }

        var clients = scenario.Clients.Select(flows => Task.Run(() => ClientAsync(flows), ct)).ToArray();
        start.Release(clients.Length);
        await Task.WhenAll(clients);

        // The model after the fact: what was settled and released, in whatever order it happened.
        model.Balance = granted - settled.Values.Sum(s => s.Cost);
        foreach (var (held, cost) in settled.Values)
        {
            model.Closed.Add(held);
            model.Settled[held.GenerationId] = cost;
        }

        foreach (var held in released.Values)
        {
            model.Closed.Add(held);
            model.Released.Add(held.GenerationId);
        }

        await model.CheckAsync(ledger, rig, "after every client finished");

        // No interleaving spent more than the account held, nor more than a key's limit (all charges are within reservations).
        Assert.True(model.Balance >= 0, $"Balance {model.Balance} after {settled.Count} settlements");
        foreach (var key in model.Keys.Where(k => k.LimitNanos is not null))
        {
            var spent = settled.Values.Where(s => s.Held.Key == key).Sum(s => s.Cost);
            Assert.True(spent <= key.LimitNanos, $"{key.Name} spent {spent} over its limit {key.LimitNanos}");
        }

        // The ledger's in-memory balance agrees with storage: exactly the balance is admitted, one nano more is not.
        var unlimited = model.Keys[0];
        await Assert.ThrowsAsync<ApiException>(() => ledger.ReserveAsync(unlimited, model.Balance + 1, (_, _) => "refused", ct));
        if (model.Balance > 0)
        {
            ledger.Release(await ledger.ReserveAsync(unlimited, model.Balance, (_, _) => "refused", ct));
        }
    }

    private static UsageRecord Usage(Held held, long cost, bool cancelled, TimeProvider time) => new()
    {
        GenerationId = held.GenerationId,
        AccountId = held.Reservation.AccountId,
        KeyId = held.Key.Id,
        Model = "test/model",
        CostNanos = cost,
        Cancelled = cancelled,
        Status = 200,
        CreatedAt = time.GetUtcNow(),
    };

    /// <summary>What the ledger should hold for one account.</summary>
    private sealed class Model
    {
        public Model(Scenario scenario, string accountId)
        {
            AccountId = accountId;
            string?[] resets = [null, null, "daily", "weekly", "monthly"];
            Keys = resets.Select((reset, i) => new ApiKey
            {
                Id = Ids.New("key"),
                AccountId = AccountId,
                Name = i == 0 ? "unlimited" : $"limit-{reset ?? "total"}",
                Label = "sk-tg-v1-test",
                Scopes = default,
                LimitNanos = i == 0 ? null : scenario.Limits[i - 1],
                LimitReset = reset,
                CreatedAt = scenario.Start,
            }).ToArray();
        }

        public string AccountId { get; }
        public ApiKey[] Keys { get; }
        public long Balance { get; set; }
        public long Overrun { get; private set; }
        public List<Held> Open { get; } = [];
        public List<Held> Closed { get; } = [];
        public Dictionary<string, long> Settled { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Released { get; } = new(StringComparer.Ordinal);
        private List<(ApiKey Key, DateOnly Day, long Cost)> Charges { get; } = [];

        public long Reserved => Open.Sum(r => r.Amount);

        public void Close(Held held, long? cost, DateTimeOffset at = default)
        {
            Open.Remove(held);
            Closed.Add(held);
            if (cost is not { } charged)
            {
                Released.Add(held.GenerationId);
                return;
            }

            Settled[held.GenerationId] = charged;
            Balance -= charged;
            Overrun += Math.Max(0, charged - held.Amount);
            Charges.Add((held.Key, DateOnly.FromDateTime(at.UtcDateTime), charged)); // usage counts on the day it was settled
        }

        /// <summary>What the key's own limit still allows (no limit: everything).</summary>
        public long KeyAvailable(ApiKey key, DateTimeOffset now) => key.LimitNanos is { } limit
            ? limit - KeySpend(key, now) - Open.Where(r => r.Key == key).Sum(r => r.Amount)
            : long.MaxValue;

        /// <summary>The key's spend in the period its limit resets on (UTC days, weeks from Monday).</summary>
        public long KeySpend(ApiKey key, DateTimeOffset now)
        {
            var today = DateOnly.FromDateTime(now.UtcDateTime);
            var from = key.LimitReset switch
            {
                "daily" => today,
                "weekly" => today.AddDays(-(((int)today.DayOfWeek + 6) % 7)),
                "monthly" => new DateOnly(today.Year, today.Month, 1),
                _ => DateOnly.MinValue,
            };
            return Charges.Where(c => c.Key == key && c.Day >= from).Sum(c => c.Cost);
        }

        public async Task CheckAsync(CreditLedger ledger, BillingRig rig, string when)
        {
            var stored = await rig.ReadAsync(AccountId);

            // (a) the balance row is the sum of the ledger, and both are what the model says.
            Assert.True(stored.BalanceRow == stored.LedgerSum && stored.LedgerSum == Balance,
                $"{when}: balance row {stored.BalanceRow}, ledger sum {stored.LedgerSum}, model {Balance}");

            // (d) what the ledger holds reserved is the sum of the open reservations.
            Assert.True(ledger.ReservedFor(AccountId) == Reserved, $"{when}: reserved {ledger.ReservedFor(AccountId)}, model {Reserved}");
            Assert.Equal(Open.Count, ledger.Open.Count(r => r.AccountId == AccountId));
            Assert.All(Closed, held => Assert.True(held.Reservation.IsClosed));

            // (b) balance − reserved ≥ −overruns: never below zero while charges stay within their reservations.
            Assert.True(stored.BalanceRow - ledger.ReservedFor(AccountId) >= -Overrun,
                $"{when}: balance {stored.BalanceRow}, reserved {ledger.ReservedFor(AccountId)}, overruns {Overrun}");

            // (c) exactly one charge per settled generation (none for a zero cost), none for released ones.
            var expectedCharges = Settled.Where(s => s.Value > 0).Select(s => (s.Key, -s.Value)).Order().ToArray();
            Assert.Equal(expectedCharges, stored.Charges.Order().ToArray());
            Assert.Equal(Settled.Keys.Order(StringComparer.Ordinal), stored.UsageIds.Order(StringComparer.Ordinal));
            Assert.DoesNotContain(stored.Charges, c => Released.Contains(c.Reference));
        }
    }

    /// <summary>A reservation the test holds, with the generation it will be settled as.</summary>
    private sealed record Held(Reservation Reservation, ApiKey Key, long Amount, string GenerationId);

    private static class Ids
    {
        public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
    }

    private enum Step
    {
        Grant,
        Reserve,
        ReserveEdge,
        Settle,
        Cancel,
        Release,
        SettleAgain,
        ReleaseAgain,
        Advance,
    }

    private enum CostMode
    {
        Under,
        Exact,
        Over,
    }

    /// <summary>One generated step. <paramref name="Pick"/> chooses among open (or closed) reservations.</summary>
    private sealed record Op(Step Step, int Key = 0, long Amount = 0, int Pick = 0, CostMode Mode = CostMode.Exact, int PerMille = 0)
    {
        /// <summary>The real cost of a call that reserved <paramref name="reserved"/>: less, the same, or (underestimated) more.</summary>
        public long Cost(long reserved) => Step == Step.Cancel || Mode == CostMode.Under
            ? reserved * PerMille / 1000
            : Mode == CostMode.Over ? reserved + 1 + reserved * PerMille / 1000 : reserved;

        public override string ToString() => Step switch
        {
            Step.Grant => $"Grant({Amount})",
            Step.Reserve => $"Reserve(key {Key}, {Amount})",
            Step.ReserveEdge => $"ReserveEdge(key {Key}, available {Pick - 1:+0;-0;+0})",
            Step.Advance => $"Advance({Amount}h)",
            _ when Amount > 0 => $"Reserve(key {Key}, {Amount}) then {Step}({Mode} {PerMille}‰, pick {Pick})",
            Step.Settle => $"Settle(#{Pick}, {Mode} {PerMille}‰)",
            Step.Cancel => $"Cancel(#{Pick}, {PerMille}‰)",
            _ => $"{Step}(#{Pick})",
        };
    }

    /// <summary>An account's starting credits, its keys' limits (total, daily, weekly, monthly) and what happens to it.</summary>
    private sealed record Scenario(DateTimeOffset Start, long InitialGrant, long[] Limits, Op[] Ops, Op[][] Clients);

    private static class Scenarios
    {
        private const int KeyCount = 5;

        // Mostly amounts that fit a few times in the balance, sometimes far more than it holds.
        private static readonly Gen<long> Amount = Gen.Frequency(
            (6, Gen.Long[1, 8_000_000]),
            (1, Gen.Long[8_000_000, 100_000_000]));

        private static readonly Gen<DateTimeOffset> Start =
            Gen.Select(Gen.Int[0, 730], Gen.Int[0, 24 * 60 - 1],
                (day, minute) => new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(day).AddMinutes(minute));

        private static readonly Gen<long[]> Limits = Gen.Long[1, 30_000_000].Array[KeyCount - 1];

        private static Gen<Op> Operation(bool overruns) => Gen.Frequency(
            (2, Gen.Long[1, 15_000_000].Select(amount => new Op(Step.Grant, Amount: amount))),
            (8, Gen.Select(Gen.Int[0, KeyCount - 1], Amount, (key, amount) => new Op(Step.Reserve, key, amount))),
            (2, Gen.Select(Gen.Int[0, KeyCount - 1], Gen.Int[0, 2], (key, offset) => new Op(Step.ReserveEdge, key, Pick: offset))),
            (4, Gen.Select(Gen.Int[0, 99], overruns ? Gen.Enum<CostMode>() : Gen.OneOf(CostMode.Under, CostMode.Exact), Gen.Int[0, 999],
                (pick, mode, perMille) => new Op(Step.Settle, Pick: pick, Mode: mode, PerMille: perMille))),
            (1, Gen.Select(Gen.Int[0, 99], Gen.Int[0, 999], (pick, perMille) => new Op(Step.Cancel, Pick: pick, PerMille: perMille))),
            (2, Gen.Int[0, 99].Select(pick => new Op(Step.Release, Pick: pick))),
            (1, Gen.Int[0, 99].Select(pick => new Op(Step.SettleAgain, Pick: pick, PerMille: 500))),
            (1, Gen.Int[0, 99].Select(pick => new Op(Step.ReleaseAgain, Pick: pick))),
            (1, Gen.Int[1, 80].Select(hours => new Op(Step.Advance, Amount: hours))));

        /// <summary>One client's requests: each reserves, then settles, cancels or releases; now and then credits are granted.</summary>
        private static Gen<Op> Flow(bool grants) => Gen.Frequency(
            (grants ? 1 : 0, Gen.Long[1, 5_000_000].Select(amount => new Op(Step.Grant, Amount: amount))),
            (8, Gen.Select(Gen.Int[0, KeyCount - 1], Amount, Gen.OneOf(Step.Settle, Step.Settle, Step.Cancel, Step.Release),
                Gen.OneOf(CostMode.Under, CostMode.Exact), Gen.Int[0, 99], Gen.Int[0, 999],
                (key, amount, step, mode, pick, perMille) => new Op(step, key, amount, pick, mode, perMille))));

        public static Gen<Scenario> Sequential(bool overruns) =>
            Gen.Select(Start, Gen.Long[1, 40_000_000], Limits, Operation(overruns).Array[1, 40],
                (start, grant, limits, ops) => new Scenario(start, grant, limits, ops, []));

        public static Gen<Scenario> Concurrent(bool grants) =>
            Gen.Select(Start, Gen.Long[1, 40_000_000], Limits, Flow(grants).Array[1, 12].Array[2, 8],
                (start, grant, limits, clients) => new Scenario(start, grant, limits, [], clients));

        public static string Print(Scenario scenario) =>
            $"start {scenario.Start:O}, grant {scenario.InitialGrant}, limits [{string.Join(", ", scenario.Limits)}]"
            + (scenario.Ops.Length > 0 ? $", ops: {string.Join("; ", scenario.Ops.Select(o => o.ToString()))}" : "")
            + string.Concat(scenario.Clients.Select((flows, i) => $"\n  client {i}: {string.Join("; ", flows.Select(o => o.ToString()))}"));
    }
}

/// <summary>
/// The real billing path on a private SQLite file: <see cref="SqliteBillingStore"/> (optionally wrapped),
/// a running <see cref="BillingWriter"/>, and a fresh <see cref="CreditLedger"/> per account under test.
/// </summary>
internal sealed class BillingRig(Func<IBillingStore, IBillingStore>? wrap = null) : IAsyncDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("tollgate-ledger-").FullName;
    private SqliteDatabase? _database;
    private BillingWriter? _writer;

    public IBillingStore Store { get; private set; } = null!;

    public async ValueTask StartAsync()
    {
        _database = new SqliteDatabase(Path.Combine(_directory, "tollgate.db"));
        await _database.InitializeAsync(CancellationToken.None);
        await using (var connection = await _database.OpenAsync(CancellationToken.None))
        {
            await new MigrationRunner("sqlite", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
        }

        // As in production: records are journaled, committed in batches, and reads wait for what is pending.
        var options = Options.Create(new CreditsOptions());
        var pending = new PendingUsage();
        var store = new SqliteBillingStore(_database, options, pending);
        Store = wrap is null ? store : wrap(store);
        _writer = new BillingWriter(Store, options, NullLogger<BillingWriter>.Instance,
            new UsageJournal(Path.Combine(_directory, "tollgate.db.usage")), pending);
        await _writer.StartAsync(CancellationToken.None);
    }

    public CreditLedger NewLedger(TimeProvider time) => new(Store, _writer!, time);

    /// <summary>A new account row (the ledger's foreign key needs one); no credits.</summary>
    public async Task<string> CreateAccountAsync()
    {
        var id = $"acct-{Guid.NewGuid():N}";
        await using var connection = await _database!.OpenAsync(CancellationToken.None);
        using var insert = connection.Command(
            """
            INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at)
            VALUES (@id, @email, @email, 'test', 'member', '-', 0)
            """,
            ("@id", id), ("@email", $"{id}@example.com"));
        await insert.ExecuteNonQueryAsync(CancellationToken.None);
        return id;
    }

    /// <summary>The account's balance row, ledger sum, charges (reference, signed amount) and usage record ids.</summary>
    public async Task<Stored> ReadAsync(string accountId)
    {
        await _writer!.FlushAsync(CancellationToken.None);
        await using var connection = await _database!.OpenAsync(CancellationToken.None);
        long? row;
        using (var balance = connection.Command("SELECT balance_nanos FROM balances WHERE account_id = @a", ("@a", accountId)))
        {
            row = await balance.ExecuteScalarAsync(CancellationToken.None) as long?;
        }

        long sum;
        using (var total = connection.Command("SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = @a", ("@a", accountId)))
        {
            sum = (long)(await total.ExecuteScalarAsync(CancellationToken.None))!;
        }

        var charges = new List<(string, long)>();
        using (var charge = connection.Command(
            "SELECT reference, amount_nanos FROM ledger WHERE account_id = @a AND kind = 'charge'", ("@a", accountId)))
        await using (var reader = await charge.ExecuteReaderAsync(CancellationToken.None))
        {
            while (await reader.ReadAsync(CancellationToken.None))
            {
                charges.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        var usage = new List<string>();
        using (var records = connection.Command("SELECT generation_id FROM usage_records WHERE account_id = @a", ("@a", accountId)))
        await using (var reader = await records.ExecuteReaderAsync(CancellationToken.None))
        {
            while (await reader.ReadAsync(CancellationToken.None))
            {
                usage.Add(reader.GetString(0));
            }
        }

        return new Stored(row, sum, charges, usage);
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)); // a test that failed may have left a write held
            await _writer.StopAsync(timeout.Token);
            _writer.Dispose();
        }

        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    internal sealed record Stored(long? BalanceRow, long LedgerSum, IReadOnlyList<(string Reference, long Amount)> Charges, IReadOnlyList<string> UsageIds);
}
