namespace Tollgate.Credits;

/// <summary>A request for a hold: what may be spent, by which key, under which limit, until when at most.</summary>
internal sealed record HoldRequest(string HoldId, string AccountId, string KeyId, long AmountNanos, long? KeyLimitNanos, string? KeyLimitReset,
    string InstanceId, DateTimeOffset Now, DateTimeOffset ExpiresAt);

/// <summary>Held, or which side was short and what it had left (nano-dollars).</summary>
internal readonly record struct HoldOutcome(bool Held, LimitSource Short, long AvailableNanos);

/// <summary>
/// Credit holds in the shared database (PostgreSQL): how several instances admit requests against one balance.
/// A hold is taken in one statement that locks the key's spend row, then the account's balance row (always in that
/// order), and holds the amount on both only when the key's limit and <c>balance − held</c> cover it. Settlement (in
/// <see cref="IBillingStore.WriteUsageAsync"/>, by the record's <see cref="UsageRecord.HoldId"/>) frees the hold in
/// the transaction that writes the charge, once: a generation is charged at most once whatever is retried.
/// </summary>
internal interface ICreditHolds
{
    Task<HoldOutcome> HoldAsync(HoldRequest request, CancellationToken cancellationToken);

    /// <summary>Frees holds without a charge (their calls delivered nothing); ids already gone are skipped.</summary>
    Task ReleaseAsync(IReadOnlyCollection<string> holdIds, CancellationToken cancellationToken);

    /// <summary>Marks this instance alive (its holds are not expired while it is), and records when it was last seen.</summary>
    Task HeartbeatAsync(string instanceId, DateTimeOffset startedAt, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Settles, at their full amount, the holds of instances not seen since <paramref name="deadBefore"/> and holds older
    /// than their <c>expires_at</c>; each is charged and listed in <c>expired_holds</c> for reconciliation, never freed.
    /// Returns how many.
    /// </summary>
    Task<int> SettleExpiredAsync(DateTimeOffset now, DateTimeOffset deadBefore, int limit, CancellationToken cancellationToken);

    /// <summary>Settles these holds at their full amount and flags them, as <see cref="SettleExpiredAsync"/> does (hung requests).</summary>
    Task<int> SettleHoldsAsync(IReadOnlyCollection<string> holdIds, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Instances seen since <paramref name="since"/> (this one included).</summary>
    Task<int> CountLiveInstancesAsync(DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>What the account holds now across every instance, and the sum of its open hold rows (equal unless broken).</summary>
    Task<(long Held, long SumOfHolds)> GetHeldAsync(string accountId, CancellationToken cancellationToken);
}
