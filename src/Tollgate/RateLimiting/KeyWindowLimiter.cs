using System.Threading.RateLimiting;

namespace Tollgate.RateLimiting;

/// <summary>
/// One key's fixed window: its first request opens a window of <c>window</c>, in which at most
/// <c>permitLimit</c> requests are admitted; the first request after the window ends opens the next.
/// </summary>
/// <remarks>
/// A <see cref="RateLimiter"/> of its own rather than <see cref="FixedWindowRateLimiter"/>: that one neither takes a
/// <see cref="TimeProvider"/> nor says when its window ends (its retry-after is always the whole window), and when
/// the window ends is what <c>X-RateLimit-Reset</c> and <c>Retry-After</c> tell the client.
/// </remarks>
internal sealed class KeyWindowLimiter : RateLimiter
{
    /// <summary>The decision behind every lease this limiter gives.</summary>
    public static readonly MetadataName<RateLimitDecision> Decision = MetadataName.Create<RateLimitDecision>("TOLLGATE_RATE_LIMIT_DECISION");

    private readonly Lock _lock = new();
    private readonly int _permitLimit;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;
    private readonly Action? _disposed;

    /// <summary>The window's length in <see cref="TimeProvider"/> timestamp units (monotonic: wall-clock changes do not move it).</summary>
    private readonly long _windowLength;

    /// <summary>When the current window ends (a timestamp); no window is open from then on.</summary>
    private long _windowEnd;

    private int _used;
    private long _admitted;
    private long _refused;
    private int _isDisposed;

    /// <param name="permitLimit">Requests admitted per window.</param>
    /// <param name="window">The window's length.</param>
    /// <param name="time">The clock.</param>
    /// <param name="disposed">Called once when the limiter is disposed (its partition dropped).</param>
    public KeyWindowLimiter(int permitLimit, TimeSpan window, TimeProvider time, Action? disposed = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permitLimit, 1);
        _permitLimit = permitLimit;
        _time = time;
        _window = window;
        _disposed = disposed;
        _windowLength = (long)(window.TotalSeconds * time.TimestampFrequency);

        // As if a window had just ended: a limiter that is made and never used counts as idle from now.
        _windowEnd = time.GetTimestamp();
    }

    /// <summary>How long no window has been open; the partitioned limiter drops a limiter idle for a while (10 s).</summary>
    public override TimeSpan? IdleDuration
    {
        get
        {
            lock (_lock)
            {
                var now = _time.GetTimestamp();
                return now >= _windowEnd ? _time.GetElapsedTime(_windowEnd, now) : null;
            }
        }
    }

    public override RateLimiterStatistics? GetStatistics()
    {
        lock (_lock)
        {
            var open = _time.GetTimestamp() < _windowEnd;
            return new RateLimiterStatistics
            {
                CurrentAvailablePermits = open ? _permitLimit - _used : _permitLimit,
                TotalSuccessfulLeases = _admitted,
                TotalFailedLeases = _refused,
            };
        }
    }

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(permitCount);
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            var utcNow = _time.GetUtcNow();
            if (now >= _windowEnd)
            {
                if (permitCount == 0)
                {
                    // Asking without taking does not open a window.
                    return new WindowLease(new RateLimitDecision(true, _permitLimit, _permitLimit, utcNow + _window), utcNow);
                }

                _windowEnd = now + _windowLength;
                _used = 0;
            }

            var resetsAt = utcNow + _time.GetElapsedTime(now, _windowEnd);
            if (_used + permitCount > _permitLimit || (permitCount == 0 && _used == _permitLimit))
            {
                _refused++;
                return new WindowLease(new RateLimitDecision(false, _permitLimit, _permitLimit - _used, resetsAt), utcNow);
            }

            _used += permitCount;
            _admitted++;
            return new WindowLease(new RateLimitDecision(true, _permitLimit, _permitLimit - _used, resetsAt), utcNow);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _isDisposed, 1) == 0)
        {
            _disposed?.Invoke();
        }

        base.Dispose(disposing);
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        // RateLimiter.DisposeAsync ends with Dispose(false); the partitioned limiter disposes this way.
        Dispose(true);
        await base.DisposeAsyncCore();
    }

    // No queueing: a request over the limit is refused at once, never held.
    protected override ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken) =>
        ValueTask.FromResult(AttemptAcquireCore(permitCount));

    /// <summary>A lease carrying its <see cref="Decision"/>, and <see cref="MetadataName.RetryAfter"/> when refused.</summary>
    private sealed class WindowLease(RateLimitDecision decision, DateTimeOffset now) : RateLimitLease
    {
        public override bool IsAcquired => decision.Admitted;

        public override IEnumerable<string> MetadataNames => decision.Admitted
            ? [Decision.Name]
            : [Decision.Name, MetadataName.RetryAfter.Name];

        public override bool TryGetMetadata(string metadataName, out object? metadata)
        {
            if (metadataName == Decision.Name)
            {
                metadata = decision;
                return true;
            }

            if (metadataName == MetadataName.RetryAfter.Name && !decision.Admitted)
            {
                metadata = decision.ResetsAt - now;
                return true;
            }

            metadata = null;
            return false;
        }
    }
}
