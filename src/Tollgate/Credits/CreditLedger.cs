using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Tollgate.ApiKeys;
using Tollgate.Http;

namespace Tollgate.Credits;

/// <summary>
/// Reserve-then-settle. Before calling upstream, a request reserves the most it can cost; it is
/// admitted only if the account's balance minus everything already reserved covers it (and the
/// key's own limit, if it has one). Afterwards the reservation is settled to the real cost —
/// written durably by <see cref="BillingWriter"/> before the answer's last byte — or released
/// when nothing was delivered. Per account, all of this happens under one lock, so no
/// interleaving of concurrent requests can spend more than the account holds.
/// </summary>
/// <remarks>
/// The balance is kept in memory and follows the ledger: it is loaded once, lowered by each
/// settled charge, and re-read from storage when a request would be refused, and before any
/// admission once the ledger holds an entry this process has not seen (a grant or debit from the
/// command line): each admission compares the newest such entry's id with the one the balance
/// includes (one indexed lookup). A re-read must never count a write twice in the account's
/// favour: it is not applied while a grant of this process is being written (that grant is then
/// counted against the admission instead), and the charges applied while it ran are taken off it.
/// Every key's reservations are counted, limited or not, so a limit added while requests are in
/// flight sees them. On SQLite one process owns an account's reservations.
///
/// On PostgreSQL (<see cref="ICreditHolds"/>) nothing about money is kept in memory: each reservation is a hold in
/// the database, taken in one statement that no other instance can interleave with, and freed in the transaction that
/// writes its charge. See <c>docs/deployment.md</c>.
/// </remarks>
internal sealed partial class CreditLedger(IBillingStore store, BillingWriter writer, TimeProvider time, Cluster.ClusterInstance? instance = null,
    ILogger<CreditLedger>? logger = null)
{
    private readonly ConcurrentDictionary<string, AccountState> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Reservation, byte> _open = new();
    private readonly ICreditHolds? _holds = store as ICreditHolds;
    private readonly ConcurrentDictionary<string, Task> _releasing = new(StringComparer.Ordinal);

    private sealed class AccountState
    {
        public Task? Loading;
        public bool Loaded;
        public long Balance;
        public long SeenEntry; // the newest ledger entry other than a charge that Balance includes (0: none)
        public long Reserved;
        public int Granting; // grants being written: committed perhaps, not yet applied here
        public long GrantEvents; // grants of this process begun or ended so far
        public long GrantsBegunNanos; // their amounts, as positive numbers, begun so far
        public long GrantsEndedNanos; // ... and ended so far
        public int Settling; // charges being written: committed perhaps, not yet applied here
        public long ChargedTotal; // every charge applied here so far
        public readonly Dictionary<string, KeyState> Keys = new(StringComparer.Ordinal);
    }

    private sealed class KeyState
    {
        public KeySpend Spend = KeySpend.None;
        public long SpendDay = -1; // the UTC day Spend's periods are for; -1: read it again
        public bool Stale; // read while charges were in flight: may count one twice (never too little); read again
        public long Reserved; // kept for every key, limited or not, so that a limit added later sees what is in flight
        public long ChargedTotal;
    }

    /// <summary>Reservations not yet settled or released (for the sweeper and for tests).</summary>
    public IReadOnlyCollection<Reservation> Open => (IReadOnlyCollection<Reservation>)_open.Keys;

    /// <summary>Admits a request that may cost up to <paramref name="maxCostNanos"/>, or throws 402.</summary>
    /// <param name="describe">Builds the 402's message from what the account or key can still afford.</param>
    /// <param name="requestAborted">
    /// The request's own <c>RequestAborted</c>: it says when the request is gone, and only then may
    /// <see cref="ReleaseAbandoned"/> free the reservation. A token that cannot be cancelled is never swept.
    /// </param>
    public async Task<Reservation> ReserveAsync(ApiKey key, long maxCostNanos, Func<LimitSource, long, string> describe, CancellationToken requestAborted)
    {
        if (_holds is not null)
        {
            return await HoldAsync(_holds, key, maxCostNanos, describe, requestAborted);
        }

        var account = await LoadAsync(key.AccountId, requestAborted);
        if (key.LimitNanos is not null)
        {
            await LoadKeyAsync(account, key, requestAborted);
        }

        // Ledger entries written by another process since the balance was read: read it again before admitting.
        var newest = await store.GetNewestOutsideEntryAsync(key.AccountId, requestAborted);
        long chargedBefore, grantEvents, grantsEnded;
        lock (account)
        {
            if (newest == account.SeenEntry && Admit(account, key, account.Balance, maxCostNanos, describe, requestAborted) is { } admitted)
            {
                return admitted;
            }

            // Not enough as far as this process knows (credits may have been granted elsewhere), or the ledger moved on.
            (chargedBefore, grantEvents, grantsEnded) = (account.ChargedTotal, account.GrantEvents, account.GrantsEndedNanos);
        }

        var stored = await store.GetCreditsAsync(key.AccountId, requestAborted);
        lock (account)
        {
            // Charges applied while reading are taken off (one the read already saw is then counted twice, which
            // only refuses a little early), so no charge can be missed.
            var balance = stored.BalanceNanos - (account.ChargedTotal - chargedBefore);
            if (account.Granting == 0 && account.GrantEvents == grantEvents)
            {
                account.Balance = balance;
                account.SeenEntry = Math.Max(account.SeenEntry, newest);
            }
            else
            {
                // A grant of this process was written meanwhile: the read may or may not hold it, and the balance in
                // memory may or may not have it yet. Neither is applied; this admission counts every such grant against itself.
                balance -= account.GrantsBegunNanos - grantsEnded;
            }

            return Admit(account, key, balance, maxCostNanos, describe, requestAborted)
                ?? throw InsufficientCredits(LimitSource.AccountCredits, Math.Max(0, balance - account.Reserved), maxCostNanos, describe);
        }
    }

    /// <summary>Under the account's lock: the reservation, null when the account's balance is short, or a 402 when the key's limit is.</summary>
    private Reservation? Admit(AccountState account, ApiKey key, long balance, long maxCostNanos, Func<LimitSource, long, string> describe,
        CancellationToken requestAborted)
    {
        if (balance - account.Reserved < maxCostNanos)
        {
            return null;
        }

        ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(account.Keys, key.Id, out _);
        state ??= new KeyState();
        if (key.LimitNanos is { } limit)
        {
            var keyAvailable = limit - state.Spend.ForReset(key.LimitReset) - state.Reserved;
            if (keyAvailable < maxCostNanos)
            {
                throw InsufficientCredits(LimitSource.KeyLimit, Math.Max(0, keyAvailable), maxCostNanos, describe);
            }
        }

        state.Reserved += maxCostNanos;
        account.Reserved += maxCostNanos;
        var reservation = new Reservation(key.AccountId, key.Id, maxCostNanos, time.GetUtcNow());
        reservation.Watch(time, requestAborted);
        _open[reservation] = 0;
        return reservation;
    }

    /// <summary>
    /// Charges the real cost and writes the usage record, durably, then frees the reservation. A
    /// reservation the sweeper released meanwhile is charged all the same: a delivered answer is
    /// never left uncharged. A reservation is settled once: a second call throws, as does a settle
    /// after the request itself released it.
    /// </summary>
    public async Task SettleAsync(Reservation reservation, UsageRecord record)
    {
        var held = reservation.TrySettle(out var stillHeld)
            ? stillHeld
            : throw new InvalidOperationException($"Reservation for {record.GenerationId} was already settled or released");
        if (_holds is not null)
        {
            await SettleHoldAsync(reservation, record with { HoldId = reservation.Id });
            return;
        }

        var account = _accounts[reservation.AccountId];
        lock (account)
        {
            account.Settling++;
        }

        try
        {
            await writer.WriteAsync(record);
        }
        catch
        {
            Free(reservation, chargedNanos: 0, record.CreatedAt, wrote: true, held);
            throw;
        }

        Free(reservation, record.CostNanos, record.CreatedAt, wrote: true, held);
    }

    /// <summary>Frees a reservation with no charge (the call failed before delivering anything). Idempotent.</summary>
    public void Release(Reservation reservation)
    {
        if (!reservation.TryRelease())
        {
            return;
        }

        if (_holds is not null)
        {
            _open.TryRemove(reservation, out _);
            ReleaseHold(_holds, reservation);
            return;
        }

        Free(reservation, chargedNanos: 0, time.GetUtcNow());
    }

    /// <summary>Writes a usage record that carries no charge (a failed call).</summary>
    public Task RecordAsync(UsageRecord record) => writer.WriteAsync(record);

    /// <summary>
    /// Releases the reservations of requests that have been gone (their client left) for longer than
    /// <paramref name="grace"/> and whose handlers have still neither settled nor released them: they hung.
    /// A request whose client is still there is never released, however long it has run.
    /// </summary>
    public int ReleaseAbandoned(TimeSpan grace)
    {
        var cutoff = time.GetUtcNow() - grace;
        var released = 0;
        var expired = new List<string>();
        foreach (var reservation in _open.Keys)
        {
            if (reservation.GoneSince is { } gone && gone <= cutoff && reservation.TryRelease(swept: true))
            {
                if (_holds is not null)
                {
                    // Its handler may still settle it: the hold is settled at its amount and flagged, never freed (a charge
                    // arriving later then finds it settled, and the books never go below what other holds need).
                    _open.TryRemove(reservation, out _);
                    expired.Add(reservation.Id);
                }
                else
                {
                    Free(reservation, 0, time.GetUtcNow());
                }

                released++;
            }
        }

        if (expired.Count > 0)
        {
            _ = _holds!.SettleHoldsAsync(expired, time.GetUtcNow(), CancellationToken.None);
        }

        return released;
    }

    /// <summary>Credits granted through this process: applied to the in-memory balance at once.</summary>
    public async Task<AccountCredits> GrantAsync(string accountId, long amountNanos, string actor, string? reference, string? note, CancellationToken cancellationToken)
    {
        if (_holds is not null)
        {
            return await store.AddCreditsAsync(accountId, amountNanos >= 0 ? "grant" : "adjustment", amountNanos, actor, reference, note,
                time.GetUtcNow(), cancellationToken);
        }

        var account = await LoadAsync(accountId, cancellationToken);
        var size = Math.Abs(amountNanos);
        lock (account)
        {
            account.Granting++;
            account.GrantEvents++;
            account.GrantsBegunNanos += size;
        }

        AccountCredits credits;
        try
        {
            credits = await store.AddCreditsAsync(accountId, amountNanos >= 0 ? "grant" : "adjustment", amountNanos, actor, reference, note,
                time.GetUtcNow(), cancellationToken);
        }
        catch
        {
            lock (account)
            {
                account.Granting--;
                account.GrantEvents++;
                account.GrantsEndedNanos += size;
            }

            throw;
        }

        lock (account)
        {
            account.Balance += amountNanos;
            account.Granting--;
            account.GrantEvents++;
            account.GrantsEndedNanos += size;
        }

        return credits;
    }

    /// <summary>What this process holds reserved for the account (for the credits endpoint and tests).</summary>
    public long ReservedFor(string accountId) => _holds is not null
        ? _open.Keys.Where(r => r.AccountId == accountId).Sum(r => r.AmountNanos)
        : _accounts.TryGetValue(accountId, out var account) ? Interlocked.Read(ref account.Reserved) : 0;

    /// <summary>Takes a hold in the database; the statement runs to its end even if the client leaves (the caller then releases it).</summary>
    private async Task<Reservation> HoldAsync(ICreditHolds holds, ApiKey key, long maxCostNanos, Func<LimitSource, long, string> describe,
        CancellationToken requestAborted)
    {
        requestAborted.ThrowIfCancellationRequested();
        var cluster = instance ?? throw new InvalidOperationException("Credit holds need the cluster instance");
        for (var attempt = 0; ; attempt++)
        {
            var now = time.GetUtcNow();
            var reservation = new Reservation(key.AccountId, key.Id, maxCostNanos, now, Storage.Ids.New("hold"));
            var outcome = await holds.HoldAsync(new HoldRequest(reservation.Id, key.AccountId, key.Id, maxCostNanos, key.LimitNanos, key.LimitReset,
                cluster.Id, now, now + cluster.MaxHoldAge), CancellationToken.None);
            if (outcome.Held)
            {
                reservation.Watch(time, requestAborted);
                _open[reservation] = 0;
                return reservation;
            }

            // Refused while a release of this instance for the account is still on its way: wait for it and look again, once.
            if (attempt == 0 && _releasing.TryGetValue(key.AccountId, out var releasing))
            {
                await releasing.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(static _ => { }, TaskScheduler.Default);
                continue;
            }

            throw InsufficientCredits(outcome.Short, outcome.AvailableNanos, maxCostNanos, describe);
        }
    }

    /// <summary>
    /// Frees the hold in the background, retrying until the database takes it (until then the amount stays held: a refusal
    /// too many, never an admission too many).
    /// </summary>
    private void ReleaseHold(ICreditHolds holds, Reservation reservation)
    {
        var task = Retry(() => holds.ReleaseAsync([reservation.Id], CancellationToken.None), "release");
        _releasing[reservation.AccountId] = task;
        _ = task.ContinueWith(done => ((ICollection<KeyValuePair<string, Task>>)_releasing).Remove(new(reservation.AccountId, done)),
            TaskScheduler.Default);
    }

    /// <summary>
    /// Writes the record, which frees the hold and charges it in one transaction, before the answer's last byte. When the
    /// database does not take it, the request ends with an error, and the record is written later all the same: the hold
    /// stays until then, so nothing is admitted against money that is spent.
    /// </summary>
    private async Task SettleHoldAsync(Reservation reservation, UsageRecord record)
    {
        _open.TryRemove(reservation, out _);
        try
        {
            await writer.WriteAsync(record);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _ = Retry(() => writer.WriteAsync(record), "settlement");
            throw;
        }
    }

    private async Task Retry(Func<Task> write, string what)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await write();
                return;
            }
            catch (Exception exception) when (attempt < 1000)
            {
                if (logger is not null)
                {
                    Log.HoldWriteFailed(logger, what, attempt, exception);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10_000, 50 * Math.Pow(2, Math.Min(attempt, 8)))), time, CancellationToken.None);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(404, LogLevel.Error, "Writing a credit hold's {What} to the database failed (attempt {Attempt}); trying again")]
        public static partial void HoldWriteFailed(ILogger logger, string what, int attempt, Exception exception);
    }

    /// <param name="held">False when the sweeper already freed the reserved amount: only the charge is applied.</param>
    private void Free(Reservation reservation, long chargedNanos, DateTimeOffset at, bool wrote = false, bool held = true)
    {
        _open.TryRemove(reservation, out _);
        var account = _accounts[reservation.AccountId];
        lock (account)
        {
            if (wrote)
            {
                account.Settling--;
            }

            var freed = held ? reservation.AmountNanos : 0;
            account.Reserved -= freed;
            account.Balance -= chargedNanos;
            account.ChargedTotal += chargedNanos;
            if (account.Keys.TryGetValue(reservation.KeyId, out var key))
            {
                key.Reserved -= freed;
                key.ChargedTotal += chargedNanos;
                if (chargedNanos > 0 && key.SpendDay == Storage.SqliteBillingStore.Day(at))
                {
                    key.Spend = key.Spend with
                    {
                        TotalNanos = key.Spend.TotalNanos + chargedNanos,
                        DailyNanos = key.Spend.DailyNanos + chargedNanos,
                        WeeklyNanos = key.Spend.WeeklyNanos + chargedNanos,
                        MonthlyNanos = key.Spend.MonthlyNanos + chargedNanos,
                    };
                }
                else if (chargedNanos > 0)
                {
                    key.SpendDay = -1; // a new day began: read the spend again next time
                }
            }
        }
    }

    private async Task<AccountState> LoadAsync(string accountId, CancellationToken cancellationToken)
    {
        var account = _accounts.GetOrAdd(accountId, static _ => new AccountState());
        if (Volatile.Read(ref account.Loaded))
        {
            return account;
        }

        Task loading;
        lock (account)
        {
            loading = account.Loading ??= LoadBalanceAsync(account, accountId);
        }

        await loading.WaitAsync(cancellationToken);
        return account;
    }

    private async Task LoadBalanceAsync(AccountState account, string accountId)
    {
        try
        {
            // The entry first: the balance read after it holds at least every entry up to it.
            var newest = await store.GetNewestOutsideEntryAsync(accountId, CancellationToken.None);
            var credits = await store.GetCreditsAsync(accountId, CancellationToken.None);
            lock (account)
            {
                account.Balance = credits.BalanceNanos;
                account.SeenEntry = newest;
                Volatile.Write(ref account.Loaded, true);
            }
        }
        catch
        {
            lock (account)
            {
                account.Loading = null; // let the next request try again
            }

            throw;
        }
    }

    /// <summary>
    /// The key's spend in its current periods, read from storage on a new day, for a new key, and
    /// after a read that charges in flight may have disturbed. Charges applied while reading are
    /// added on top (one the read already saw is then counted twice, refusing a little early, never late).
    /// </summary>
    private async Task LoadKeyAsync(AccountState account, ApiKey key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var today = Storage.SqliteBillingStore.Day(now);
        long chargedBefore;
        lock (account)
        {
            if (!account.Keys.TryGetValue(key.Id, out var state))
            {
                account.Keys[key.Id] = state = new KeyState();
            }

            if (state.SpendDay == today && !state.Stale)
            {
                return;
            }

            chargedBefore = state.ChargedTotal;
        }

        var spend = await store.GetKeySpendAsync(key.Id, now, cancellationToken);
        lock (account)
        {
            var state = account.Keys[key.Id];
            var since = state.ChargedTotal - chargedBefore;
            state.Spend = new KeySpend(spend.TotalNanos + since, spend.DailyNanos + since, spend.WeeklyNanos + since, spend.MonthlyNanos + since);
            state.SpendDay = today;
            state.Stale = account.Settling > 0;
        }
    }

    private static ApiException InsufficientCredits(LimitSource source, long availableNanos, long requiredNanos, Func<LimitSource, long, string> describe) =>
        new(StatusCodes.Status402PaymentRequired, describe(source, availableNanos),
            new Dictionary<string, object?>
            {
                ["limit_source"] = source == LimitSource.KeyLimit ? "key_limit" : "account_credits",
                ["current_balance"] = Money.ToUsd(availableNanos),
                ["required"] = Money.ToUsd(requiredNanos),
            })
        {
            ErrorFields = new Dictionary<string, object?> { ["current_balance"] = Money.ToUsd(availableNanos) },
        };
}

internal enum LimitSource
{
    AccountCredits,
    KeyLimit,
}

/// <summary>Credits held for one request until it is settled or released — exactly once.</summary>
internal sealed class Reservation(string accountId, string keyId, long amountNanos, DateTimeOffset createdAt, string? id = null)
{
    /// <summary>The hold's id in the database (PostgreSQL storage); empty on SQLite.</summary>
    public string Id { get; } = id ?? "";

    private const int Held = 0, Released = 1, Swept = 2, Settled = 3;
    private int _state;
    private long _goneSinceTicks; // UTC ticks when the request's client left; 0 while it is there
    private TimeProvider? _time;
    private CancellationTokenRegistration _owner;

    public string AccountId { get; } = accountId;
    public string KeyId { get; } = keyId;
    public long AmountNanos { get; } = amountNanos;
    public DateTimeOffset CreatedAt { get; } = createdAt;
    public bool IsClosed => Volatile.Read(ref _state) != Held;

    /// <summary>When the request that holds the reservation went away; null while it is there.</summary>
    public DateTimeOffset? GoneSince => Interlocked.Read(ref _goneSinceTicks) is > 0 and var ticks ? new DateTimeOffset(ticks, TimeSpan.Zero) : null;

    /// <summary>Follows the request's liveness until the reservation is closed.</summary>
    internal void Watch(TimeProvider time, CancellationToken requestAborted)
    {
        _time = time;
        _owner = requestAborted.UnsafeRegister(static state =>
        {
            var reservation = (Reservation)state!;
            Interlocked.CompareExchange(ref reservation._goneSinceTicks, reservation._time!.GetUtcNow().UtcTicks, 0);
        }, this);
    }

    /// <summary>Closes a held reservation with no charge (by its request, or by the sweeper); false when it was already closed.</summary>
    internal bool TryRelease(bool swept = false)
    {
        if (Interlocked.CompareExchange(ref _state, swept ? Swept : Released, Held) != Held)
        {
            return false;
        }

        _owner.Unregister();
        return true;
    }

    /// <summary>
    /// Closes it with a charge: a held reservation, or one the sweeper released meanwhile (<paramref name="held"/> false).
    /// False when it was settled before, or released by its own request (which said nothing was delivered).
    /// </summary>
    internal bool TrySettle(out bool held)
    {
        held = Interlocked.CompareExchange(ref _state, Settled, Held) == Held;
        if (held)
        {
            _owner.Unregister();
            return true;
        }

        return Interlocked.CompareExchange(ref _state, Settled, Swept) == Swept;
    }
}
