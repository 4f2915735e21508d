using System.Threading.RateLimiting;

namespace Tollgate.RateLimiting;

/// <summary>
/// The counters of one Tollgate instance: a <see cref="PartitionedRateLimiter{TResource}"/> with one
/// <see cref="KeyWindowLimiter"/> per key and limit.
/// </summary>
/// <remarks>
/// Why a fixed window of one minute: <c>requests_per_minute</c> reads as "this many in a minute", and a fixed
/// window says exactly that in its headers — Remaining counts down to 0 and comes back to the limit at Reset — with
/// one counter per key, the same shape as a counter with an expiry in a shared store. Its known cost is that a
/// client may spend one window's requests at its end and the next window's at once after it (at most twice the
/// limit in a short span); a sliding window would smooth that but cannot say when requests come back.
/// <para>
/// The partition is the key id <em>and</em> its limit, so a changed limit (a PATCH) is a new partition from the
/// key's next request on, counting from zero. A partition whose window has ended is dropped by the partitioned
/// limiter about ten seconds later, so memory holds only the keys used in the last minute or so. (A request that
/// looked its partition up in the instant that partition was dropped counts in the dropped one: at most one extra
/// request, and only for a key coming back after ten idle seconds, whose window was over anyway.)
/// </para>
/// </remarks>
internal sealed class LocalRequestRateLimiter : IRequestRateLimiter, IDisposable, IAsyncDisposable
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly PartitionedRateLimiter<KeyLimit> _partitions;
    private int _livePartitions;

    public LocalRequestRateLimiter(TimeProvider time)
    {
        _partitions = PartitionedRateLimiter.Create<KeyLimit, KeyLimit>(target => RateLimitPartition.Get(target, partition =>
        {
            Interlocked.Increment(ref _livePartitions);
            return new KeyWindowLimiter(partition.RequestsPerMinute, Window, time, () => Interlocked.Decrement(ref _livePartitions));
        }));
    }

    /// <summary>Partitions held in memory: one per key (and limit) used within about the last minute.</summary>
    public int LivePartitions => Volatile.Read(ref _livePartitions);

    public ValueTask<RateLimitDecision> AcquireAsync(string keyId, int requestsPerMinute, CancellationToken cancellationToken)
    {
        using var lease = _partitions.AttemptAcquire(new KeyLimit(keyId, requestsPerMinute));
        return lease.TryGetMetadata(KeyWindowLimiter.Decision, out var decision)
            ? ValueTask.FromResult(decision)
            : throw new InvalidOperationException("The rate limiter's lease carries no decision.");
    }

    public void Dispose() => _partitions.Dispose();

    public ValueTask DisposeAsync() => _partitions.DisposeAsync();

    private readonly record struct KeyLimit(string KeyId, int RequestsPerMinute);
}
