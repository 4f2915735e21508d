using System.Collections.Concurrent;
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
/// settled charge, and re-read from storage when a request would be refused (credits granted
/// from the command line are seen then). A re-read must never count a write twice in the
/// account's favour: it is not applied while a grant of this process is being written, and the
/// charges applied while it ran are taken off it. One process owns an account's reservations;
/// several instances (PostgreSQL and Redis) will need shared reservations.
/// </remarks>
internal sealed class CreditLedger(IBillingStore store, BillingWriter writer, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, AccountState> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Reservation, byte> _open = new();

    private sealed class AccountState
    {
        public Task? Loading;
        public bool Loaded;
        public long Balance;
        public long Reserved;
        public int Granting; // grants being written: committed perhaps, not yet applied here
        public int Settling; // charges being written: committed perhaps, not yet applied here
        public long ChargedTotal; // every charge applied here so far
        public readonly Dictionary<string, KeyState> Keys = new(StringComparer.Ordinal);
    }

    private sealed class KeyState
    {
        public KeySpend Spend = KeySpend.None;
        public long SpendDay = -1; // the UTC day Spend's periods are for; -1: read it again
        public bool Stale; // read while charges were in flight: may count one twice (never too little); read again
        public long Reserved;
        public long ChargedTotal;
    }

    /// <summary>Reservations not yet settled or released (for the sweeper and for tests).</summary>
    public IReadOnlyCollection<Reservation> Open => (IReadOnlyCollection<Reservation>)_open.Keys;

    /// <summary>Admits a request that may cost up to <paramref name="maxCostNanos"/>, or throws 402.</summary>
    /// <param name="describe">Builds the 402's message from what the account or key can still afford.</param>
    public async Task<Reservation> ReserveAsync(ApiKey key, long maxCostNanos, Func<LimitSource, long, string> describe, CancellationToken cancellationToken)
    {
        var account = await LoadAsync(key.AccountId, cancellationToken);
        if (key.LimitNanos is not null)
        {
            await LoadKeyAsync(account, key, cancellationToken);
        }

        var refreshed = false;
        for (var attempt = 0; ; attempt++)
        {
            long chargedBefore;
            lock (account)
            {
                var available = account.Balance - account.Reserved;
                if (available >= maxCostNanos)
                {
                    if (key.LimitNanos is { } limit)
                    {
                        var state = account.Keys[key.Id];
                        var keyAvailable = limit - state.Spend.ForReset(key.LimitReset) - state.Reserved;
                        if (keyAvailable < maxCostNanos)
                        {
                            throw InsufficientCredits(LimitSource.KeyLimit, Math.Max(0, keyAvailable), maxCostNanos, describe);
                        }

                        state.Reserved += maxCostNanos;
                    }

                    account.Reserved += maxCostNanos;
                    var reservation = new Reservation(key.AccountId, key.Id, maxCostNanos, time.GetUtcNow());
                    _open[reservation] = 0;
                    return reservation;
                }

                // Refuse once the balance was re-read from storage, or when writes in flight kept it from being applied.
                if (refreshed || attempt >= 3)
                {
                    throw InsufficientCredits(LimitSource.AccountCredits, Math.Max(0, available), maxCostNanos, describe);
                }

                chargedBefore = account.ChargedTotal;
            }

            // Not enough as far as this process knows: credits may have been granted elsewhere (the CLI).
            var stored = await store.GetCreditsAsync(key.AccountId, cancellationToken);
            lock (account)
            {
                // A grant committed but not yet applied here would be counted twice: wait until none is in flight.
                // Charges applied while reading are taken off again (one the read already saw is then counted twice,
                // which only refuses a little early), so no charge can be missed.
                if (account.Granting == 0)
                {
                    account.Balance = stored.BalanceNanos - (account.ChargedTotal - chargedBefore);
                    refreshed = true;
                }
            }

            if (!refreshed)
            {
                await Task.Yield(); // let the write in flight apply itself, then read again
            }
        }
    }

    /// <summary>
    /// Charges the real cost and writes the usage record, durably, then frees the reservation.
    /// A reservation is settled once: a second call throws.
    /// </summary>
    public async Task SettleAsync(Reservation reservation, UsageRecord record)
    {
        if (!reservation.TryClose())
        {
            throw new InvalidOperationException($"Reservation for {record.GenerationId} was already settled or released");
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
            Free(reservation, chargedNanos: 0, record.CreatedAt, wrote: true);
            throw;
        }

        Free(reservation, record.CostNanos, record.CreatedAt, wrote: true);
    }

    /// <summary>Frees a reservation with no charge (the call failed before delivering anything). Idempotent.</summary>
    public void Release(Reservation reservation)
    {
        if (reservation.TryClose())
        {
            Free(reservation, chargedNanos: 0, time.GetUtcNow());
        }
    }

    /// <summary>Writes a usage record that carries no charge (a failed call).</summary>
    public Task RecordAsync(UsageRecord record) => writer.WriteAsync(record);

    /// <summary>Releases reservations older than <paramref name="maxAge"/>: their requests hung or died.</summary>
    public int ReleaseStale(TimeSpan maxAge)
    {
        var cutoff = time.GetUtcNow() - maxAge;
        var released = 0;
        foreach (var reservation in _open.Keys)
        {
            if (reservation.CreatedAt < cutoff && reservation.TryClose())
            {
                Free(reservation, 0, time.GetUtcNow());
                released++;
            }
        }

        return released;
    }

    /// <summary>Credits granted through this process: applied to the in-memory balance at once.</summary>
    public async Task<AccountCredits> GrantAsync(string accountId, long amountNanos, string actor, string? reference, string? note, CancellationToken cancellationToken)
    {
        var account = await LoadAsync(accountId, cancellationToken);
        lock (account)
        {
            account.Granting++;
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
            }

            throw;
        }

        lock (account)
        {
            account.Balance += amountNanos;
            account.Granting--;
        }

        return credits;
    }

    /// <summary>What this process holds reserved for the account (for the credits endpoint and tests).</summary>
    public long ReservedFor(string accountId) => _accounts.TryGetValue(accountId, out var account) ? Interlocked.Read(ref account.Reserved) : 0;

    private void Free(Reservation reservation, long chargedNanos, DateTimeOffset at, bool wrote = false)
    {
        _open.TryRemove(reservation, out _);
        var account = _accounts[reservation.AccountId];
        lock (account)
        {
            if (wrote)
            {
                account.Settling--;
            }

            account.Reserved -= reservation.AmountNanos;
            account.Balance -= chargedNanos;
            account.ChargedTotal += chargedNanos;
            if (account.Keys.TryGetValue(reservation.KeyId, out var key))
            {
                key.Reserved = Math.Max(0, key.Reserved - reservation.AmountNanos);
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
            var credits = await store.GetCreditsAsync(accountId, CancellationToken.None);
            lock (account)
            {
                account.Balance = credits.BalanceNanos;
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
internal sealed class Reservation(string accountId, string keyId, long amountNanos, DateTimeOffset createdAt)
{
    private int _closed;

    public string AccountId { get; } = accountId;
    public string KeyId { get; } = keyId;
    public long AmountNanos { get; } = amountNanos;
    public DateTimeOffset CreatedAt { get; } = createdAt;
    public bool IsClosed => Volatile.Read(ref _closed) == 1;

    internal bool TryClose() => Interlocked.Exchange(ref _closed, 1) == 0;
}
